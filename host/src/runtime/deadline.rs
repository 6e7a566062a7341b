//! An invocation's deadline, measured on the plugin's own run: the CPU time of the thread while it runs
//! the plugin, plus the time the plugin waits inside host calls (a sleep, a poll). Never the time its
//! task waited for a plugin thread, nor the time its thread waited for a CPU on a loaded machine: a 0.3 ms
//! template must not time out because the machine was busy.
//!
//! The epoch (ticked every millisecond of wall-clock time) only says when to look: when a store's epoch
//! deadline comes, [`RunClock::extend`] moves it by what the plugin has not used yet, or ends the call.
//! A wait inside a host call is ended by a timer set to what is left ([`within_deadline`]).

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime::{Trap, UpdateDeadline};

/// The plugin time one call may use and has used. Cheap to clone: the store holds one (for the epoch
/// callback), the future driving the call another.
#[derive(Clone)]
pub(crate) struct RunClock(Arc<Mutex<Spent>>);

struct Spent {
    limit: Duration,
    /// Plugin time used by the polls and waits that ended.
    used: Duration,
    /// The thread's CPU time when the running poll began; `None` between polls.
    poll_began: Option<Duration>,
}

impl RunClock {
    pub fn new(limit: Duration) -> RunClock {
        RunClock(Arc::new(Mutex::new(Spent { limit, used: Duration::ZERO, poll_began: None })))
    }

    fn spent(&self) -> std::sync::MutexGuard<'_, Spent> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The plugin time used so far, the running poll included.
    pub fn used(&self) -> Duration {
        let spent = self.spent();
        spent.used + spent.poll_began.map_or(Duration::ZERO, |began| thread_cpu_time().saturating_sub(began))
    }

    fn remaining(&self) -> Duration {
        let limit = self.spent().limit;
        limit.saturating_sub(self.used())
    }

    fn begin_poll(&self) {
        self.spent().poll_began = Some(thread_cpu_time());
    }

    fn end_poll(&self) {
        let mut spent = self.spent();
        if let Some(began) = spent.poll_began.take() {
            spent.used += thread_cpu_time().saturating_sub(began);
        }
    }

    fn add_wait(&self, waited: Duration) {
        self.spent().used += waited;
    }

    /// The store's epoch callback: the deadline moved by the ticks the plugin has left (one per
    /// millisecond, one more so that it never ends early), or the call ended as a timeout.
    pub fn extend(&self) -> wasmtime::Result<UpdateDeadline> {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return Err(Trap::Interrupt.into());
        }
        Ok(UpdateDeadline::Continue(ticks(remaining)))
    }
}

/// Epoch ticks (milliseconds) for `remaining`, rounded up, plus one.
pub(crate) fn ticks(remaining: Duration) -> u64 {
    remaining.as_micros().div_ceil(1000) as u64 + 1
}

/// Drives `call` (instantiating a plugin and calling one export) while `clock` has time left; `None` when
/// it ran out while the plugin waited inside a host call. Time spent in wasm is ended by the epoch
/// callback as a trap instead. Each poll is charged the CPU time of the thread polling it, and each wait
/// between polls its wall-clock time.
pub(crate) async fn within_deadline<T>(
    clock: &RunClock,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Option<wasmtime::Result<T>> {
    let mut call = pin!(call);
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut waiting_since: Option<Instant> = None;
    poll_fn(|context| {
        if let Some(since) = waiting_since.take() {
            clock.add_wait(since.elapsed());
        }
        if clock.remaining().is_zero() {
            return Poll::Ready(None);
        }
        clock.begin_poll();
        let polled = call.as_mut().poll(context);
        clock.end_poll();
        if let Poll::Ready(returned) = polled {
            return Poll::Ready(Some(returned));
        }
        // Waiting inside a host call: woken by it, or by the timer when the time left has passed.
        let mut sleep = Box::pin(tokio::time::sleep(clock.remaining()));
        if sleep.as_mut().poll(context).is_ready() {
            return Poll::Ready(None);
        }
        timer.replace(sleep);
        waiting_since = Some(Instant::now());
        Poll::Pending
    })
    .await
}

/// CPU time the calling thread has used (wall-clock time since an arbitrary point where the platform has
/// no per-thread clock).
fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec we own; the thread CPU clock always exists.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0 {
            return Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_a_cpu_is_not_the_plugins_time() {
        let clock = RunClock::new(Duration::from_millis(50));
        clock.begin_poll();
        // Asleep, the thread uses no CPU: as if another thread had the core.
        std::thread::sleep(Duration::from_millis(80));
        assert!(clock.used() < Duration::from_millis(20), "{:?}", clock.used());
        assert!(matches!(clock.extend(), Ok(UpdateDeadline::Continue(_))));
        // Running, it uses its time, however long the machine takes to give it 50 ms of CPU.
        let started = Instant::now();
        while clock.extend().is_ok() {
            std::hint::black_box(0u64);
            assert!(started.elapsed() < Duration::from_secs(30), "the clock never ran out");
        }
        clock.end_poll();
        assert!(clock.used() >= Duration::from_millis(50), "{:?}", clock.used());
    }

    #[test]
    fn a_wait_in_a_host_call_counts_and_ends_at_the_limit() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let clock = RunClock::new(Duration::from_millis(30));
        let started = Instant::now();
        let ended = runtime.block_on(within_deadline(&clock, async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        }));
        assert!(ended.is_none());
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert!(clock.extend().is_err(), "no time left");
        assert_eq!(ticks(Duration::from_micros(1500)), 3);
    }
}
