//! Typed errors of the runtime: why a plugin could not be loaded, and why one invocation failed.

use thiserror::Error;

/// Why a binary was refused as a plugin.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("not a WebAssembly component: {0}")]
    Malformed(String),
    #[error(
        "plugin imports `{import}`, which Gancho does not provide; a plugin may import only {granted} \
         (which grant nothing); remove the import, or build the plugin with gancho-sdk",
        granted = super::grants::granted_imports()
    )]
    UnsupportedImport { import: String },
    #[error(
        "plugin does not export the `gancho:plugin/plugin` world: {0}; build it with gancho-sdk's \
         `plugin!` macro, or export `transform` from wit/plugin.wit"
    )]
    WrongExports(String),
    #[error("failed to store the precompiled plugin in {path}: {message}")]
    Cache { path: String, message: String },
    #[error(
        "plugin needs {needed} {resource} per instance, and this host allows {allowed} \
         (`plugins.{setting}`); build the plugin with fewer (componentize-py's --stub-wasi makes 38 core \
         instances instead of 14), or ask the service's operator to raise the setting"
    )]
    OverInstanceBudget { resource: &'static str, needed: u32, allowed: u32, setting: &'static str },
}

/// Why a plugin did not accept a subscription's configuration ([`super::Runtime::check_config`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigCheckError {
    /// The plugin looked at the configuration and refused it; its message says what to change.
    #[error(
        "the plugin refused the configuration: {}{message}; fix the subscription's config and set it again",
        field.as_deref().map(|field| format!("field `{field}`: ")).unwrap_or_default()
    )]
    Refused {
        /// Where the problem is (`channel`, `columns[2]`), when the plugin said.
        field: Option<String>,
        message: String,
    },
    /// The check itself failed (a trap, the deadline, a limit): the configuration was not judged.
    #[error("the plugin failed while checking the configuration: {0}")]
    Failed(#[from] InvokeError),
}

/// Why one invocation of a plugin produced no requests.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InvokeError {
    #[error(
        "timeout: the plugin ran for more than {limit_ms} ms, the limit on one run (`limits.timeout_ms`, which \
         the service's operator sets for each tenant); make the plugin faster, or ask the operator to raise \
         your limit"
    )]
    Timeout { limit_ms: u64 },
    #[error(
        "fuel exhausted: the plugin used more than {limit} units of fuel, the limit on one run (`limits.fuel`, \
         which the service's operator sets); make the plugin do less work per event, or ask the operator to \
         raise the limit"
    )]
    FuelExhausted { limit: u64 },
    #[error(
        "memory limit: the plugin tried to grow its memory beyond {limit_bytes} bytes, the limit on one run \
         (`limits.memory_bytes`, which the service's operator sets for each tenant); make the plugin use less \
         memory, or ask the operator to raise your limit"
    )]
    MemoryLimit { limit_bytes: usize },
    #[error("stack overflow: the plugin recursed too deeply")]
    StackOverflow,
    #[error("output too large: {0}")]
    OutputTooLarge(String),
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    #[error("trap: {message}")]
    Trap { message: String },
    #[error("{} plugin error: {message}", if *.permanent { "permanent" } else { "transient" })]
    Plugin { permanent: bool, message: String },
}

impl InvokeError {
    /// Whether trying the same event again later may succeed. Limits and traps are deterministic for the
    /// same plugin and event, except time, which depends on the machine's load.
    pub fn is_retryable(&self) -> bool {
        match self {
            InvokeError::Timeout { .. } => true,
            InvokeError::Plugin { permanent, .. } => !permanent,
            _ => false,
        }
    }

    /// A short, stable name for the error's kind (for metrics and the API).
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::Timeout { .. } => "timeout",
            InvokeError::FuelExhausted { .. } => "fuel_exhausted",
            InvokeError::MemoryLimit { .. } => "memory_limit",
            InvokeError::StackOverflow => "stack_overflow",
            InvokeError::OutputTooLarge(_) => "output_too_large",
            InvokeError::InvalidOutput(_) => "invalid_output",
            InvokeError::Trap { .. } => "trap",
            InvokeError::Plugin { permanent: true, .. } => "plugin_error_permanent",
            InvokeError::Plugin { permanent: false, .. } => "plugin_error_transient",
        }
    }
}
