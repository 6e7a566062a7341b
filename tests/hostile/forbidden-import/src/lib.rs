//! Exports `transform` correctly but imports `acme:net/sockets`: Gancho must refuse it at load time.

wit_bindgen::generate!({ path: "wit", world: "greedy", generate_all });

struct Greedy;

impl Guest for Greedy {
    fn transform(
        _event: gancho::plugin::types::Event,
        _subscription: gancho::plugin::types::Subscription,
    ) -> Result<Vec<gancho::plugin::types::Request>, gancho::plugin::types::PluginError> {
        acme::net::sockets::connect("169.254.169.254", 80);
        Ok(vec![])
    }
}

export!(Greedy);
