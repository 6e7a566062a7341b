//! The stand-in OAuth provider of `gancho stand-in oauth`, run in this process on a free loopback port.

use gancho::cli::stand_in::OAuthStandIn;

pub const CLIENT_ID: &str = "stand-in-app";
pub const CLIENT_SECRET: &str = "stand-in-secret";

pub struct StandInProvider {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub provider: OAuthStandIn,
    _runtime: tokio::runtime::Runtime,
}

impl StandInProvider {
    /// A provider whose access tokens last `token_secs`.
    pub fn start(token_secs: u64) -> StandInProvider {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let provider = OAuthStandIn::new(CLIENT_ID, CLIENT_SECRET, token_secs);
        let router = provider.router();
        runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
        StandInProvider { url, provider, _runtime: runtime }
    }

    /// The settings that make it the service's `hubspot` app, its tokens going to `hosts`.
    pub fn as_hubspot(&self, hosts: &str) -> Vec<(&'static str, String)> {
        vec![
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__CLIENT_ID", CLIENT_ID.to_owned()),
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__AUTHORIZE_URL", format!("{}/authorize", self.url)),
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__TOKEN_URL", format!("{}/token", self.url)),
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__HOSTS", hosts.to_owned()),
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__SCOPES", "crm.objects.contacts.write".to_owned()),
        ]
    }
}
