//! The host side of the `gancho:plugin` WIT world: the one place where bindings are generated.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // `transform` is called with `call_async`, so that the invocation's deadline can end it even while the
    // plugin waits inside an (async) WASI host call. Our own `log` import stays synchronous: it never waits.
    exports: { default: async },
});

pub use self::gancho::plugin::log::Level as LogLevel;
pub use self::gancho::plugin::types as wit;
