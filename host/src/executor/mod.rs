//! The plugin executor: threads that run plugin invocations, fed by a [`FairQueue`] so that each tenant
//! gets a fair share of plugin time and a slow or failing tenant cannot hold back the others.
//!
//! An invocation is CPU-bound and ends by its deadline (see [`crate::runtime`]), so a thread is never held
//! longer than one deadline by one task. There are two lanes: the normal threads (by default twice the
//! cores, so a well-behaved tenant's task finds a free thread at once) and the slow lane (by default half
//! the cores), which alone runs the tasks of tenants whose runs are slow. The slow lane's threads run at
//! the lowest CPU priority (Linux `nice` 19): a plugin spinning to its deadline there uses only the CPU
//! the others leave.

mod queue;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

pub use queue::{FairQueue, Lane, Shares};

/// How the executor is sized; see `[plugins]` in `host/gancho.example.toml`.
#[derive(Debug, Clone, Copy)]
pub struct ExecutorSettings {
    /// Threads that run the tasks of tenants whose runs are fast.
    pub threads: usize,
    /// Threads that run the tasks of tenants whose runs are slow, at the lowest CPU priority.
    pub slow_lane_threads: usize,
    pub shares: Shares,
}

/// One queued run: does its work, hands its result over by itself, and returns the plugin time it took.
type Task = Box<dyn FnOnce() -> Duration + Send>;

/// The threads and their shared queue. Dropping it lets the threads finish what is queued and exit.
pub struct PluginExecutor {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a task for the normal threads is queued, and on shutdown.
    normal_work: Condvar,
    /// The same for the slow lane's threads.
    slow_work: Condvar,
}

struct Queue {
    fair: FairQueue<Task>,
    stopping: bool,
}

impl PluginExecutor {
    /// Starts the threads of both lanes.
    pub fn start(settings: ExecutorSettings) -> std::io::Result<PluginExecutor> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { fair: FairQueue::new(settings.shares), stopping: false }),
            normal_work: Condvar::new(),
            slow_work: Condvar::new(),
        });
        let lanes = [
            (Lane::Normal, settings.threads, "plugin"),
            (Lane::Slow, settings.slow_lane_threads, "slow-plugin"),
        ];
        for (lane, threads, name) in lanes {
            for index in 0..threads.max(1) {
                let shared = shared.clone();
                std::thread::Builder::new().name(format!("gancho-{name}-{index}")).spawn(move || {
                    if lane == Lane::Slow {
                        lower_this_threads_priority();
                    }
                    shared.serve(lane)
                })?;
            }
        }
        Ok(PluginExecutor { shared })
    }

    /// Queues `work` at once, to run on a plugin thread in `tenant`'s turn; the future resolves to its
    /// result (`None` if the work panicked). `work` returns its result and the plugin time it used (what
    /// the tenant is charged).
    pub fn submit<R, W>(&self, tenant: &str, work: W) -> impl Future<Output = Option<R>> + Send + use<R, W>
    where
        R: Send + 'static,
        W: FnOnce() -> (R, Duration) + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let task: Task = Box::new(move || {
            let (result, took) = work();
            let _ = sender.send(result);
            took
        });
        let lane = self.shared.lock().fair.push(tenant, task);
        self.shared.work(lane).notify_one();
        async move { receiver.await.ok() }
    }

    /// The plugin time `tenant`'s queued and running work is expected to take.
    pub fn backlog(&self, tenant: &str) -> Duration {
        self.shared.lock().fair.backlog(tenant)
    }

    /// Runs of tenants whose runs are fast, queued or running: how many will end within moments.
    pub fn pending_fast(&self) -> usize {
        self.shared.lock().fair.pending(Lane::Normal)
    }

    /// Runs waiting for a thread, across tenants.
    pub fn waiting(&self) -> usize {
        self.shared.lock().fair.waiting()
    }
}

impl Drop for PluginExecutor {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.normal_work.notify_all();
        self.shared.slow_work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A task runs outside the lock, so a poisoned lock only means a panic in the queue's own code,
        // whose state is still consistent between its calls.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn work(&self, lane: Lane) -> &Condvar {
        match lane {
            Lane::Normal => &self.normal_work,
            Lane::Slow => &self.slow_work,
        }
    }

    /// One thread's loop: take the next task of its lane that the fair queue allows, run it, report its
    /// time.
    fn serve(&self, lane: Lane) {
        let mut queue = self.lock();
        loop {
            let Some((task, ticket)) = queue.fair.pop(lane) else {
                if queue.stopping && queue.fair.waiting() == 0 {
                    return;
                }
                queue = self.work(lane).wait(queue).unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            };
            drop(queue);
            // A panicking task drops its result sender, so its caller gets `None`; the thread goes on.
            let took = std::panic::catch_unwind(AssertUnwindSafe(task)).unwrap_or(Duration::ZERO);
            queue = self.lock();
            if let Some(moved_to) = queue.fair.finish(ticket, took) {
                self.work(moved_to).notify_one();
            }
        }
    }
}

/// Runs `work` (a compile) on a thread of its own at the lowest CPU priority, where parallel work it starts
/// (Cranelift compiles a component's functions in parallel) stays on that one thread: one core at most, and
/// only what plugins leave. Called from a plugin thread, in a tenant's turn, it keeps a tenant's compile of
/// a candidate from taking every core from the others.
pub fn on_one_low_priority_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "gancho-compile".to_owned())
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .inspect_err(|error| tracing::warn!(%error, "no thread for compiles; compiling on the caller's"))
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Gives the calling thread the lowest CPU priority. Linux applies `nice` per thread; elsewhere the slow
/// lane runs at the normal priority (its own threads still keep it off the normal ones).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with PRIO_PROCESS and the caller's own thread id changes only this thread.
    unsafe {
        let thread_id = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, thread_id, 19) != 0 {
            tracing::warn!("could not lower the slow plugin lane's CPU priority; it runs at the normal one");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compile_runs_on_one_thread_of_its_own_at_the_lowest_priority() {
        let (threads, name, nice) = on_one_low_priority_thread(|| {
            // SAFETY: getpriority of the calling thread reads only.
            let nice = unsafe {
                libc::getpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t)
            };
            (rayon::current_num_threads(), std::thread::current().name().map(str::to_owned), nice)
        });
        assert_eq!(threads, 1, "parallel work inside stays on one thread");
        assert_eq!(name.as_deref(), Some("gancho-compile"));
        assert_eq!(nice, 19);
    }
    use std::time::Instant;

    fn executor(threads: usize, per_tenant: usize, slow_lane_threads: usize) -> PluginExecutor {
        let shares = Shares { per_tenant, slow_run: Duration::from_millis(20) };
        PluginExecutor::start(ExecutorSettings { threads, slow_lane_threads, shares }).unwrap()
    }

    /// Work that holds its thread for `duration`, like a plugin running to its deadline.
    fn hold(duration: Duration) -> impl FnOnce() -> ((), Duration) + Send + 'static {
        move || {
            std::thread::sleep(duration);
            ((), duration)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tenant_holding_its_share_does_not_hold_back_another() {
        let executor = executor(4, 2, 1);
        // The slow tenant queues many long runs…
        let mut slow = Vec::new();
        for _ in 0..20 {
            slow.push(executor.submit("slow", hold(Duration::from_millis(200))));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        // …and another tenant's runs still start at once, on the threads beyond the slow tenant's share.
        let started = Instant::now();
        for _ in 0..10 {
            assert_eq!(executor.submit("fast", || (7, Duration::from_micros(50))).await, Some(7));
        }
        assert!(started.elapsed() < Duration::from_millis(150), "took {:?}", started.elapsed());
        drop(slow);
    }

    #[tokio::test]
    async fn a_panicking_task_gives_none_and_the_thread_goes_on() {
        let executor = executor(1, 1, 1);
        let panicked = executor.submit("a", || -> ((), Duration) { panic!("boom") }).await;
        assert_eq!(panicked, None);
        assert_eq!(executor.submit("a", || (1, Duration::ZERO)).await, Some(1));
    }
}
