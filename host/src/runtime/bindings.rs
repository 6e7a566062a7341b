//! The host side of the `gancho:plugin` WIT world: the one place where bindings are generated.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
});

pub use self::gancho::plugin::log::Level as LogLevel;
pub use self::gancho::plugin::types as wit;
