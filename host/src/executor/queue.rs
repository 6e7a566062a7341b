//! The fair queue of plugin runs: one first-in-first-out queue per tenant, served in start-time fair
//! queueing order by the plugin time each tenant has used, in two lanes, with a cap on each tenant's runs
//! at once.
//!
//! Plugin time is only known once a run ends, so a run is charged its tenant's recent mean cost when it
//! starts and corrected by what it really took when it ends. A tenant whose mean cost is above
//! `slow_run` is slow: its runs are served only to the threads of the slow lane, and the others' only to
//! the normal threads — so however many slow tenants there are, they never hold a normal thread.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// The caps of a [`FairQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    /// Runs of one tenant at once.
    pub per_tenant: usize,
    /// A tenant whose recent mean run takes longer than this is slow.
    pub slow_run: Duration,
}

/// Which tasks a thread takes: those of tenants whose runs are fast (so far), or of slow ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Normal,
    Slow,
}

/// What [`FairQueue::pop`] hands out with a task, to give back to [`FairQueue::finish`].
#[derive(Debug)]
pub struct Ticket {
    tenant: Arc<str>,
    charged_us: u64,
}

/// Per-tenant queues served fairly; see the module's documentation.
pub struct FairQueue<T> {
    shares: Shares,
    tenants: HashMap<Arc<str>, Tenant<T>>,
    /// The start tag of the run that started last: a tenant that was idle starts from here, so it gets
    /// no credit for the time it did not use.
    virtual_now: u64,
}

struct Tenant<T> {
    waiting: VecDeque<T>,
    running: usize,
    /// Plugin time charged so far, in microseconds: the tenant with the least goes next.
    finish: u64,
    /// Recent mean cost of one run, in microseconds (exponentially weighted).
    mean_us: u64,
}

impl<T> FairQueue<T> {
    pub fn new(shares: Shares) -> FairQueue<T> {
        FairQueue { shares, tenants: HashMap::new(), virtual_now: 0 }
    }

    fn lane_of(&self, mean_us: u64) -> Lane {
        if mean_us > self.shares.slow_run.as_micros() as u64 { Lane::Slow } else { Lane::Normal }
    }

    /// Queues `task` behind the tenant's earlier ones; returns the lane that will take it.
    pub fn push(&mut self, tenant: &str, task: T) -> Lane {
        let virtual_now = self.virtual_now;
        let entry = match self.tenants.get_mut(tenant) {
            Some(entry) => entry,
            None => self.tenants.entry(Arc::from(tenant)).or_insert_with(|| Tenant {
                waiting: VecDeque::new(),
                running: 0,
                finish: virtual_now,
                mean_us: 0,
            }),
        };
        if entry.waiting.is_empty() && entry.running == 0 {
            entry.finish = entry.finish.max(virtual_now);
        }
        entry.waiting.push_back(task);
        let mean_us = entry.mean_us;
        self.lane_of(mean_us)
    }

    /// The next task for a thread of `lane`: the oldest of the tenant (of that lane) that has used the
    /// least plugin time, among those under their cap. `None` if every such task is held by the cap (or
    /// none waits).
    pub fn pop(&mut self, lane: Lane) -> Option<(T, Ticket)> {
        let per_tenant = self.shares.per_tenant;
        let slow_us = self.shares.slow_run.as_micros() as u64;
        let (name, tenant) = self
            .tenants
            .iter_mut()
            .filter(|(_, t)| !t.waiting.is_empty() && t.running < per_tenant)
            .filter(|(_, t)| (t.mean_us > slow_us) == (lane == Lane::Slow))
            // Ties go by name, so the order never depends on the map's.
            .min_by(|(a_name, a), (b_name, b)| (a.finish, a_name).cmp(&(b.finish, b_name)))?;
        let task = tenant.waiting.pop_front().expect("filtered on a waiting task");
        // At least a microsecond, so that even a tenant of free runs takes its turn.
        let charged_us = tenant.mean_us.max(1);
        self.virtual_now = self.virtual_now.max(tenant.finish);
        tenant.finish += charged_us;
        tenant.running += 1;
        Some((task, Ticket { tenant: name.clone(), charged_us }))
    }

    /// Records that the run of `ticket` ended after `took` of plugin time. Returns the lane that should
    /// look again for work: the other one, if the tenant changed lanes with tasks waiting.
    pub fn finish(&mut self, ticket: Ticket, took: Duration) -> Option<Lane> {
        let took_us = took.as_micros() as u64;
        let virtual_now = self.virtual_now;
        let tenant = self.tenants.get_mut(&ticket.tenant)?;
        let before = tenant.mean_us;
        tenant.running -= 1;
        tenant.finish = (tenant.finish + took_us).saturating_sub(ticket.charged_us);
        tenant.mean_us = if tenant.mean_us == 0 { took_us } else { (tenant.mean_us * 3 + took_us) / 4 };
        let (after, waiting) = (tenant.mean_us, !tenant.waiting.is_empty());
        // An idle tenant is forgotten once it has no advance over the others (its state is then what a
        // new tenant would get), so the map holds only tenants with recent work.
        if !waiting && tenant.running == 0 && tenant.finish <= virtual_now {
            self.tenants.remove(&ticket.tenant);
        }
        let moved = self.lane_of(before) != self.lane_of(after);
        (moved && waiting).then(|| self.lane_of(after))
    }

    /// The plugin time a tenant's queued and running tasks are expected to take, from its mean cost.
    pub fn backlog(&self, tenant: &str) -> Duration {
        self.tenants.get(tenant).map_or(Duration::ZERO, |t| {
            Duration::from_micros(t.mean_us * (t.waiting.len() + t.running) as u64)
        })
    }

    /// Tasks of `lane`'s tenants queued or running.
    pub fn pending(&self, lane: Lane) -> usize {
        self.tenants
            .values()
            .filter(|t| self.lane_of(t.mean_us) == lane)
            .map(|t| t.waiting.len() + t.running)
            .sum()
    }

    /// Tasks waiting (not running), across tenants.
    pub fn waiting(&self) -> usize {
        self.tenants.values().map(|t| t.waiting.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARES: Shares = Shares { per_tenant: 2, slow_run: Duration::from_millis(10) };

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// Runs every task to its end one at a time, each taking `cost(tenant)`, and returns the order.
    fn serve(queue: &mut FairQueue<&'static str>, cost: impl Fn(&str) -> Duration) -> Vec<&'static str> {
        let mut order = Vec::new();
        while let Some((task, ticket)) = queue.pop(Lane::Normal) {
            order.push(task);
            let took = cost(&ticket.tenant);
            queue.finish(ticket, took);
        }
        order
    }

    #[test]
    fn tenants_alternate_when_their_runs_cost_the_same() {
        let mut queue = FairQueue::new(SHARES);
        for task in ["a1", "a2", "a3"] {
            queue.push("a", task);
        }
        for task in ["b1", "b2", "b3"] {
            queue.push("b", task);
        }
        let order = serve(&mut queue, |_| ms(1));
        assert_eq!(order, ["a1", "b1", "a2", "b2", "a3", "b3"]);
    }

    #[test]
    fn a_tenant_with_costly_runs_gets_fewer_turns_not_more_time() {
        let mut queue = FairQueue::new(SHARES);
        for _ in 0..20 {
            queue.push("cheap", "cheap");
            queue.push("costly", "costly");
        }
        // The costly tenant's runs take 8 times as long: for each of its runs, about eight cheap ones.
        let order = serve(&mut queue, |tenant| if tenant == "costly" { ms(8) } else { ms(1) });
        let first_half = &order[..20];
        let costly = first_half.iter().filter(|t| **t == "costly").count();
        assert!((2..=4).contains(&costly), "{order:?}");
    }

    #[test]
    fn a_tenant_runs_at_most_its_share_at_once() {
        let mut queue = FairQueue::new(SHARES);
        for _ in 0..5 {
            queue.push("a", "a");
        }
        let first = queue.pop(Lane::Normal).unwrap();
        let second = queue.pop(Lane::Normal).unwrap();
        assert!(queue.pop(Lane::Normal).is_none(), "a third run of the same tenant waits");
        queue.push("b", "b");
        assert_eq!(queue.pop(Lane::Normal).unwrap().0, "b", "another tenant is not held behind it");
        queue.finish(first.1, ms(1));
        assert_eq!(queue.pop(Lane::Normal).unwrap().0, "a");
        queue.finish(second.1, ms(1));
    }

    #[test]
    fn slow_tenants_go_to_the_slow_lane_and_never_to_the_normal_threads() {
        let mut queue = FairQueue::new(SHARES);
        assert_eq!(queue.push("slow", "warm-up"), Lane::Normal, "a new tenant is not slow yet");
        let (_, ticket) = queue.pop(Lane::Normal).unwrap();
        queue.push("slow", "slow 1");
        assert_eq!(queue.finish(ticket, ms(100)), Some(Lane::Slow), "it moved, with a task waiting");
        assert_eq!(queue.push("slow", "slow 2"), Lane::Slow);
        queue.push("fast", "fast");
        assert_eq!(queue.pop(Lane::Normal).unwrap().0, "fast");
        assert!(queue.pop(Lane::Normal).is_none(), "a normal thread never takes a slow tenant's task");
        let (task, mut ticket) = queue.pop(Lane::Slow).unwrap();
        assert_eq!(task, "slow 1");
        // Once its runs are fast again, it leaves the slow lane.
        let mut lane = Lane::Slow;
        for _ in 0..20 {
            queue.finish(ticket, ms(1));
            lane = queue.push("slow", "again");
            ticket = queue.pop(lane).expect("its next task, in the lane it is in now").1;
        }
        assert_eq!(lane, Lane::Normal);
    }

    #[test]
    fn an_idle_tenant_gets_no_credit_for_the_time_it_did_not_use() {
        let mut queue = FairQueue::new(SHARES);
        for _ in 0..10 {
            queue.push("busy", "busy");
        }
        serve(&mut queue, |_| ms(1));
        for _ in 0..4 {
            queue.push("busy", "busy");
            queue.push("newcomer", "newcomer");
        }
        let order = serve(&mut queue, |_| ms(1));
        // The newcomer goes first (the busy one has used more), and then they alternate: the busy tenant's
        // past use is not held against it forever.
        assert_eq!(&order[..4], ["newcomer", "busy", "newcomer", "busy"], "{order:?}");
    }

    #[test]
    fn backlog_is_the_expected_plugin_time_of_queued_and_running_work() {
        let mut queue = FairQueue::new(SHARES);
        queue.push("a", "a");
        let (_, ticket) = queue.pop(Lane::Normal).unwrap();
        queue.finish(ticket, ms(40));
        for _ in 0..3 {
            queue.push("a", "a");
        }
        assert_eq!(queue.backlog("a"), ms(120));
        assert_eq!(queue.backlog("nobody"), Duration::ZERO);
        assert_eq!((queue.pending(Lane::Normal), queue.pending(Lane::Slow)), (0, 3), "40 ms runs are slow");
        assert_eq!(queue.waiting(), 3);
    }
}
