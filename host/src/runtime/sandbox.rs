//! The state of one sandboxed plugin instance: a WASI context that grants nothing, clocks frozen at the
//! event's timestamp, the memory limiter, and the log lines the plugin wrote (through the `log` import or
//! on stdout/stderr).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::{LogLevel, gancho, wit};
use super::limits::MemoryLimiter;

/// One line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    pub level: LogLevelName,
    pub message: String,
}

/// The log lines of one invocation as they are kept with its deliveries and shown by the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoggedLines<L> {
    pub lines: L,
    /// Lines beyond the limits, counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// The level of a [`LogLine`]; stdout is `info`, stderr is `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevelName {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Everything a store owns for one invocation.
pub(crate) struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub logs: LogBuffer,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    /// What the `check` import's `sample-events` answers: the samples a configuration check may try (empty
    /// outside one).
    pub samples: Vec<wit::Event>,
}

impl SandboxState {
    /// A sandbox whose clocks read `event_time` (seconds and nanoseconds since the Unix epoch).
    pub fn new(
        event_time: Duration,
        memory_limit_bytes: usize,
        max_log_lines: usize,
        max_log_bytes: usize,
    ) -> SandboxState {
        let stdout = CapturedOutput::default();
        let stderr = CapturedOutput::default();
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenClock(event_time))
            .monotonic_clock(FrozenClock(event_time))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(super::grants::MAX_RANDOM_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(super::grants::MAX_RESOURCES);
        SandboxState {
            wasi,
            table,
            limiter: MemoryLimiter { limit_bytes: memory_limit_bytes, refused: false },
            logs: LogBuffer {
                lines: Vec::new(),
                dropped: 0,
                bytes: 0,
                max_lines: max_log_lines,
                max_bytes: max_log_bytes,
            },
            stdout,
            stderr,
            samples: Vec::new(),
        }
    }

    /// The log lines, with what the plugin printed on stdout (as `info`) and stderr (as `warn`) last.
    pub fn into_logs(mut self) -> (Vec<LogLine>, usize) {
        for (output, level) in [(&self.stdout, LogLevelName::Info), (&self.stderr, LogLevelName::Warn)] {
            for line in output.text().lines().filter(|line| !line.trim().is_empty()) {
                self.logs.push(level, line.to_owned());
            }
        }
        (self.logs.lines, self.logs.dropped)
    }

    /// What the plugin wrote to stderr so far (a Rust guest's panic message lands there).
    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl gancho::plugin::types::Host for SandboxState {}

impl gancho::plugin::check::Host for SandboxState {
    fn sample_events(&mut self) -> Vec<wit::Event> {
        self.samples.clone()
    }
}

impl gancho::plugin::log::Host for SandboxState {
    fn log(&mut self, level: LogLevel, message: String) {
        let level = match level {
            LogLevel::Trace => LogLevelName::Trace,
            LogLevel::Debug => LogLevelName::Debug,
            LogLevel::Info => LogLevelName::Info,
            LogLevel::Warn => LogLevelName::Warn,
            LogLevel::Error => LogLevelName::Error,
        };
        self.logs.push(level, message);
    }
}

/// Log lines of one invocation, bounded in lines and bytes so a chatty plugin cannot use the host's
/// memory (nor the database's, where the lines are kept with the delivery).
pub(crate) struct LogBuffer {
    lines: Vec<LogLine>,
    dropped: usize,
    /// Bytes of message text kept so far.
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl LogBuffer {
    const MAX_LINE_CHARS: usize = 4096;

    fn push(&mut self, level: LogLevelName, mut message: String) {
        if self.lines.len() >= self.max_lines || self.bytes >= self.max_bytes {
            self.dropped += 1;
            return;
        }
        if let Some((cut, _)) = message.char_indices().nth(Self::MAX_LINE_CHARS) {
            message.truncate(cut);
            message.push_str(" …");
        }
        let room = self.max_bytes - self.bytes;
        if message.len() > room {
            let cut = message.char_indices().map(|(i, _)| i).take_while(|i| *i <= room).last().unwrap_or(0);
            message.truncate(cut);
            message.push_str(" …");
        }
        self.bytes += message.len();
        self.lines.push(LogLine { level, message });
    }
}

/// A clock that always reads the event's time: plugins see no clock beyond what the event carries, and the
/// same event maps the same way whenever it runs.
struct FrozenClock(Duration);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        self.0.as_nanos() as u64
    }
}

/// stdout or stderr of a plugin: keeps the first [`CapturedOutput::CAPACITY`] bytes and silently drops
/// the rest, so printing too much never fails the plugin (Rust's `print!` panics on a write error).
#[derive(Clone, Default)]
struct CapturedOutput(Arc<Mutex<Vec<u8>>>);

impl CapturedOutput {
    const CAPACITY: usize = 16 * 1024;

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = Self::CAPACITY.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn text(&self) -> String {
        let buffer = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(max_lines: usize, max_bytes: usize) -> LogBuffer {
        LogBuffer { lines: Vec::new(), dropped: 0, bytes: 0, max_lines, max_bytes }
    }

    #[test]
    fn logs_are_capped_in_lines_and_bytes() {
        let mut lines = buffer(2, 1 << 20);
        for n in 0..5 {
            lines.push(LogLevelName::Info, format!("line {n}"));
        }
        assert_eq!((lines.lines.len(), lines.dropped), (2, 3));

        let mut bytes = buffer(100, 10);
        bytes.push(LogLevelName::Info, "12345678".into());
        bytes.push(LogLevelName::Warn, "abcdefgh".into());
        bytes.push(LogLevelName::Warn, "never kept".into());
        assert_eq!(bytes.lines[0].message, "12345678");
        assert_eq!(bytes.lines[1].message, "ab …");
        assert_eq!(bytes.dropped, 1);
    }
}
