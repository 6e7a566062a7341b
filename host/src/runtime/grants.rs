//! What a plugin may import, and why none of it can hold a host thread past the invocation's deadline.
//!
//! Every invocation runs with `call_async` under a timer of `limits.timeout_ms` (see
//! [`super::Runtime::invoke_async`]), and epoch interruption traps wasm code at the same deadline. A host
//! call that *waits* (a sleep, a read) is an `.await` inside that future, so the timer drops it at the
//! deadline; what is left to check is that no granted host call can *run* (compute or block the thread
//! without awaiting) for long. Each granted interface, and why it cannot:
//!
//! | interface | what the sandbox gives | why it cannot block |
//! |---|---|---|
//! | `gancho:plugin/log` | appends a line to a capped buffer | no I/O; lines and line lengths capped |
//! | `gancho:plugin/types` | types only | nothing to call |
//! | `wasi:clocks/wall-clock`, `monotonic-clock` | clocks frozen at the event's timestamp | `now` reads a constant; `subscribe-duration` / `subscribe-instant` make a pollable whose wait is a tokio sleep, awaited, so the deadline ends it |
//! | `wasi:io/poll` | `poll` over the plugin's pollables | an async wait, ended by the deadline; a huge list is refused while it is lifted (each entry is a lent handle, counted against wasmtime's handles per store: 3 million entries trap in about 25 ms) |
//! | `wasi:io/streams` | stdin closed; stdout/stderr captured | reads of stdin answer "closed" at once; writes copy at most [`super::sandbox`]'s capture size and are always ready; `blocking-*` variants are capped at 4 KiB by WASI and await readiness (immediate) |
//! | `wasi:io/error` | error strings | no I/O |
//! | `wasi:cli/environment` | no variables, no arguments, no working directory | constant answers |
//! | `wasi:cli/exit` | traps the instance | ends the call |
//! | `wasi:cli/stdin`, `stdout`, `stderr`, `terminal-*` | the streams above; no terminal | constant answers |
//! | `wasi:random/random`, `insecure`, `insecure-seed` | a CSPRNG | at most [`MAX_RANDOM_BYTES`] per call, so a plugin cannot make the host generate (and allocate) a large buffer |
//! | `wasi:filesystem/types`, `preopens` | no preopened directory | without a descriptor no file call can be made; `get-directories` is empty |
//! | `wasi:sockets/*` | TCP, UDP and name lookup refused | creating a TCP or UDP socket fails at once with `access-denied`, and `resolve-addresses` with `permanent-resolver-failure`, before any system call |
//!
//! Nothing else links: [`check`] refuses any other import before the plugin is accepted. Whatever a plugin
//! calls, it holds at most [`MAX_RESOURCES`] host resources at once; one more traps.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};

use super::bindings;
use super::error::LoadError;
use super::sandbox::SandboxState;
use super::{LOG_IMPORT, WORLD_VERSION};

/// Most random bytes one `get-random-bytes` call may ask for (WASI's default is 64 MiB).
pub(crate) const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Most host resources (pollables, streams, …) one instance may hold at once (wasmtime's default is a
/// million), so that a plugin cannot use the host's memory by making handles and never dropping them.
pub(crate) const MAX_RESOURCES: usize = 10_000;

/// WASI 0.2 packages whose interfaces are granted (as the table above describes).
const WASI_GRANTED: &[&str] =
    &["wasi:cli/", "wasi:clocks/", "wasi:filesystem/", "wasi:io/", "wasi:random/", "wasi:sockets/"];

/// Adds every granted import to `linker`: our `log` interface, and WASI 0.2's async implementation.
pub(crate) fn add_to_linker(linker: &mut Linker<SandboxState>) -> wasmtime::Result<()> {
    bindings::Plugin::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    wasmtime_wasi::p2::add_to_linker_async(linker)
}

/// The component's imports, refusing any the host does not provide.
pub(crate) fn check(engine: &Engine, component: &Component) -> Result<Vec<String>, LoadError> {
    let mut imports = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        let provided = name == LOG_IMPORT
            || name == format!("gancho:plugin/types@{WORLD_VERSION}")
            || (matches!(item.ty, ComponentItem::ComponentInstance(_))
                && name.contains("@0.2.")
                && WASI_GRANTED.iter().any(|prefix| name.starts_with(prefix)));
        if !provided {
            return Err(LoadError::UnsupportedImport { import: name.to_owned() });
        }
        imports.push(name.to_owned());
    }
    Ok(imports)
}
