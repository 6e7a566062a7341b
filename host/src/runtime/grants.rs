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
//! | `gancho:plugin/check` (0.1.3) | the sample events a configuration check may try | a copy of a short list made before the call |
//! | `gancho:plugin/time` (0.1.3) | local time in an IANA zone, from the tz database compiled in | a lookup in memory; inputs over 64 characters refused unread |
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
//! Nothing else links: [`check_binary`] refuses any other import by reading the binary, before it is
//! compiled, and [`check`] again on the compiled component's types. Whatever a plugin calls, it holds at
//! most [`MAX_RESOURCES`] host resources at once; one more traps.

use wasmparser::{ComponentTypeRef, Encoding, Parser, Payload, TypeBounds};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};

use super::SUPPORTED_WORLD_VERSIONS;
use super::bindings;
use super::error::LoadError;
use super::sandbox::SandboxState;

/// Most random bytes one `get-random-bytes` call may ask for (WASI's default is 64 MiB).
pub(crate) const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Most host resources (pollables, streams, …) one instance may hold at once (wasmtime's default is a
/// million), so that a plugin cannot use the host's memory by making handles and never dropping them.
pub(crate) const MAX_RESOURCES: usize = 10_000;

/// Our own interfaces a plugin may import, with the version each appeared in: each is granted in that
/// version and the later ones of [`SUPPORTED_WORLD_VERSIONS`].
const OWN_GRANTED: &[(&str, &str)] = &[
    ("gancho:plugin/log", "0.1.0"),
    ("gancho:plugin/types", "0.1.0"),
    ("gancho:plugin/time", "0.1.3"),
    ("gancho:plugin/check", "0.1.3"),
];

/// WASI 0.2 packages whose interfaces are granted (as the table above describes).
const WASI_GRANTED: &[&str] =
    &["wasi:cli/", "wasi:clocks/", "wasi:filesystem/", "wasi:io/", "wasi:random/", "wasi:sockets/"];

/// Adds every granted import to `linker`: our `log` interface, and WASI 0.2's async implementation.
pub(crate) fn add_to_linker(linker: &mut Linker<SandboxState>) -> wasmtime::Result<()> {
    bindings::PluginBase::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    wasmtime_wasi::p2::add_to_linker_async(linker)
}

/// Refuses, by reading the binary and before anything is compiled (which can take seconds for a large
/// component), a core module and any top-level import the host does not provide. Nested core modules and
/// components have import sections of their own, satisfied inside the component: they are skipped.
pub(crate) fn check_binary(wasm: &[u8]) -> Result<(), LoadError> {
    let malformed = |e: wasmparser::BinaryReaderError| LoadError::Malformed(e.to_string());
    // How many nested modules or components the parser is inside; 0 is the plugin itself.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(malformed)? {
            Payload::Version { encoding: Encoding::Module, .. } if depth == 0 => {
                return Err(LoadError::Malformed(
                    "this is a core WebAssembly module; Gancho runs components: build the plugin for \
                     `wasm32-wasip2` (with gancho-sdk), or wrap the module with `wasm-tools component new`"
                        .into(),
                ));
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports {
                    let import = import.map_err(malformed)?;
                    // A world's `use types.{event}` becomes a type import equal to a type the plugin
                    // already has: a name, not a capability (wasmtime does not list it either).
                    if matches!(import.ty, ComponentTypeRef::Type(TypeBounds::Eq(_))) {
                        continue;
                    }
                    let name = import.name.name;
                    if !is_granted(name, matches!(import.ty, ComponentTypeRef::Instance(_))) {
                        return Err(LoadError::UnsupportedImport { import: name.to_owned() });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The compiled component's imports, refusing any the host does not provide (the same rule as
/// [`check_binary`], on the types wasmtime resolved).
pub(crate) fn check(engine: &Engine, component: &Component) -> Result<Vec<String>, LoadError> {
    let mut imports = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        if !is_granted(name, matches!(item.ty, ComponentItem::ComponentInstance(_))) {
            return Err(LoadError::UnsupportedImport { import: name.to_owned() });
        }
        imports.push(name.to_owned());
    }
    Ok(imports)
}

/// Whether the host provides the import `name`: one of our interfaces in a supported version, or an
/// instance of a granted WASI 0.2 package.
fn is_granted(name: &str, is_instance: bool) -> bool {
    let own = name.split_once('@').is_some_and(|(interface, version)| {
        OWN_GRANTED
            .iter()
            .any(|(granted, since)| *granted == interface && own_versions(since).contains(&version))
    });
    let wasi = is_instance && name.contains("@0.2.") && WASI_GRANTED.iter().any(|p| name.starts_with(p));
    own || wasi
}

/// The supported versions from `since` on.
fn own_versions(since: &str) -> &'static [&'static str] {
    let first =
        SUPPORTED_WORLD_VERSIONS.iter().position(|v| *v == since).unwrap_or(SUPPORTED_WORLD_VERSIONS.len());
    &SUPPORTED_WORLD_VERSIONS[first..]
}

/// What a plugin may import, for error messages: `gancho:plugin/log@0.1.0, … and WASI 0.2's wasi:cli, …`.
pub(crate) fn granted_imports() -> String {
    let own: Vec<String> = OWN_GRANTED
        .iter()
        .flat_map(|(interface, since)| own_versions(since).iter().map(move |v| format!("`{interface}@{v}`")))
        .collect();
    let wasi: Vec<&str> = WASI_GRANTED.iter().map(|p| p.trim_end_matches('/')).collect();
    format!("{}, and the interfaces of WASI 0.2's {} packages", own.join(", "), wasi.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_interfaces_are_granted_in_supported_versions_only() {
        assert!(is_granted("gancho:plugin/log@0.1.0", true));
        assert!(is_granted("gancho:plugin/types@0.1.0", true));
        assert!(!is_granted("gancho:plugin/log@9.0.0", true));
        assert!(!is_granted("gancho:plugin/secrets@0.1.0", true));
        assert!(is_granted("gancho:plugin/time@0.1.3", true));
        assert!(!is_granted("gancho:plugin/time@0.1.2", true), "time came in 0.1.3");
        assert!(is_granted("wasi:io/streams@0.2.6", true));
        assert!(!is_granted("wasi:io/streams@0.2.6", false));
        assert!(!is_granted("wasi:http/outgoing-handler@0.2.6", true));
        assert!(!is_granted("wasi:io/streams@0.3.0", true));
    }

    #[test]
    fn a_core_module_is_refused_before_compiling() {
        let error = check_binary(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(error.to_string().contains("core WebAssembly module"), "{error}");
    }

    #[test]
    fn the_granted_list_names_our_interfaces_and_wasi() {
        let granted = granted_imports();
        assert!(granted.contains("`gancho:plugin/log@0.1.0`"), "{granted}");
        assert!(granted.contains("wasi:clocks"), "{granted}");
    }
}
