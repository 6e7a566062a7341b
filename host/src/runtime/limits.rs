//! Limits on one plugin invocation (memory, time, fuel, output), and the store limiter that enforces the
//! memory limit and remembers whether it was hit, so a refused allocation is reported as such.

use serde::{Deserialize, Serialize};

/// What one invocation of a plugin may use. Breaking a limit is a typed [`super::InvokeError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory a plugin instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time an invocation may run, in milliseconds (enforced with epoch interruption).
    pub timeout_ms: u64,
    /// Optional deterministic budget of WebAssembly fuel (roughly instructions). `None` disables fuel
    /// metering. Changing it between `None` and `Some` needs a new runtime, since it changes compiled code.
    pub fuel: Option<u64>,
    /// Most requests one event may produce.
    pub max_requests: usize,
    /// Most bytes one event's requests may add up to (URLs, headers and bodies).
    pub max_output_bytes: usize,
    /// Most log lines (including stdout/stderr lines) kept from one invocation; the rest are counted.
    pub max_log_lines: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 32 << 20,
            timeout_ms: 100,
            fuel: None,
            max_requests: 16,
            max_output_bytes: 4 << 20,
            max_log_lines: 100,
        }
    }
}

/// Enforces [`Limits::memory_bytes`] on one store and records a refusal.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub limit_bytes: usize,
    pub refused: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit_bytes;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
