//! The host side of the `gancho:plugin` WIT world: the one place where bindings are generated.
//!
//! They are generated for `plugin-base`, what every plugin exports (0.1.0's whole world); the optional
//! exports the `plugin` and `merging-plugin` worlds add (`validate-config`, 0.1.1; `merge`, 0.1.2) are
//! looked up by name on each plugin, with the types generated here.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin-base",
    // `transform` is called with `call_async`, so that the invocation's deadline can end it even while the
    // plugin waits inside an (async) WASI host call. Our own `log` import stays synchronous: it never waits.
    exports: { default: async },
});

pub use self::gancho::plugin::log::Level as LogLevel;
pub use self::gancho::plugin::types as wit;

/// The name of the optional export that checks a subscription's configuration.
pub const VALIDATE_CONFIG: &str = "validate-config";

/// The name of the optional export that merges requests waiting for one destination.
pub const MERGE: &str = "merge";
