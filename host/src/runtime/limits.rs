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
    /// Most bytes of log text kept from one invocation; lines beyond it are counted, not kept.
    pub max_log_bytes: usize,
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
            max_log_bytes: 16 << 10,
        }
    }
}

impl Limits {
    /// These limits, each lowered to `ceiling`'s where it is lower: what a tenant's own limits mean on a
    /// runtime whose limits are `ceiling`. Fuel stays the ceiling's (it is an engine setting).
    pub fn capped_by(&self, ceiling: &Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.min(ceiling.memory_bytes),
            timeout_ms: self.timeout_ms.min(ceiling.timeout_ms),
            fuel: ceiling.fuel,
            max_requests: self.max_requests.min(ceiling.max_requests),
            max_output_bytes: self.max_output_bytes.min(ceiling.max_output_bytes),
            max_log_lines: self.max_log_lines.min(ceiling.max_log_lines),
            max_log_bytes: self.max_log_bytes.min(ceiling.max_log_bytes),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_limits_never_exceed_the_runtimes() {
        let ceiling = Limits { timeout_ms: 100, memory_bytes: 32 << 20, ..Limits::default() };
        let lower = Limits { timeout_ms: 20, memory_bytes: 64 << 20, max_requests: 2, ..Limits::default() };
        let capped = lower.capped_by(&ceiling);
        assert_eq!(capped.timeout_ms, 20);
        assert_eq!(capped.memory_bytes, 32 << 20);
        assert_eq!(capped.max_requests, 2);
        assert_eq!(capped.max_output_bytes, ceiling.max_output_bytes);
    }
}
