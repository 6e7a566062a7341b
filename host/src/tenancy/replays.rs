//! How often a tenant may start replays: each makes a range of a subscription's deliveries due at once,
//! which is cheap to ask for and costly to carry out, so the starts are counted over the last hour
//! (`quotas.max_replays_per_hour`). Each instance counts the starts it was asked for.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::store::Millis;

const HOUR_MS: Millis = 3_600_000;

/// The replays each tenant started in the last hour, on this instance.
#[derive(Default)]
pub struct ReplayBudget {
    started: Mutex<HashMap<String, VecDeque<Millis>>>,
}

impl ReplayBudget {
    /// Counts a start of `tenant` at `now` if it has fewer than `per_hour` in the last hour; otherwise
    /// returns how many seconds until it may start another.
    pub fn try_start(&self, tenant: &str, per_hour: u64, now: Millis) -> Result<(), u64> {
        let mut started = self.started.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let times = started.entry(tenant.to_owned()).or_default();
        while times.front().is_some_and(|at| *at <= now - HOUR_MS) {
            times.pop_front();
        }
        if times.len() as u64 >= per_hour {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(((oldest + HOUR_MS - now).max(1000) / 1000) as u64);
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_over_the_hourly_quota_wait_for_the_oldest_to_leave_the_hour() {
        let budget = ReplayBudget::default();
        assert!(budget.try_start("acme", 2, 0).is_ok());
        assert!(budget.try_start("acme", 2, 1_000).is_ok());
        assert_eq!(budget.try_start("acme", 2, 60_000), Err(3_540));
        assert!(budget.try_start("other", 2, 60_000).is_ok(), "each tenant has its own");
        assert!(budget.try_start("acme", 2, HOUR_MS + 1).is_ok());
    }
}
