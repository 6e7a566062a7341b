//! Containing a plugin that keeps hitting its deadline: consecutive timeouts are counted per
//! subscription, and at `pause_after` in a row the subscription's plugin runs are paused (in the store,
//! with a reason the operator and the tenant read on the subscription). Its events then wait as plugin
//! errors, and run once it is resumed with `PATCH … {"paused": false}`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Consecutive deadline hits per subscription, and the subscriptions this instance knows are paused.
pub struct Containment {
    pause_after: u32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    timeouts_in_a_row: HashMap<String, u32>,
    paused: HashSet<String>,
}

/// What [`Containment::record`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// This run made the count reach the threshold: pause the subscription now.
    Pause {
        timeouts: u32,
    },
}

impl Containment {
    /// `pause_after == 0` never pauses.
    pub fn new(pause_after: u32) -> Containment {
        Containment { pause_after, state: Mutex::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a run's outcome for `subscription`: a timeout adds one to its count, anything else resets it.
    pub fn record(&self, subscription: &str, timed_out: bool) -> Verdict {
        let mut state = self.state();
        if !timed_out {
            // Most runs end here: no allocation for a subscription that never timed out.
            state.timeouts_in_a_row.remove(subscription);
            return Verdict::Keep;
        }
        let count = state.timeouts_in_a_row.entry(subscription.to_owned()).or_insert(0);
        *count += 1;
        let timeouts = *count;
        if self.pause_after > 0
            && timeouts >= self.pause_after
            && state.paused.insert(subscription.to_owned())
        {
            state.timeouts_in_a_row.remove(subscription);
            return Verdict::Pause { timeouts };
        }
        Verdict::Keep
    }

    /// Whether this instance has paused the subscription, or seen it paused in the store (runs already
    /// queued for it are then not started).
    pub fn is_paused(&self, subscription: &str) -> bool {
        let state = self.state();
        !state.paused.is_empty() && state.paused.contains(subscription)
    }

    /// Brings the paused set in line with what the store says of a subscription.
    pub fn observe(&self, subscription: &str, paused: bool) {
        let mut state = self.state();
        if paused {
            if !state.paused.contains(subscription) {
                state.paused.insert(subscription.to_owned());
            }
        } else if !state.paused.is_empty() {
            state.paused.remove(subscription);
        }
    }

    /// The reason stored on a subscription paused after `timeouts` deadline hits of `limit_ms`.
    pub fn reason(timeouts: u32, limit_ms: u64) -> String {
        format!(
            "its plugin ran into its {limit_ms} ms deadline on {timeouts} events in a row; make the plugin \
             faster (or ask the service's operator to raise your limits.timeout_ms), then resume with PATCH \
             {{\"paused\": false}}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_once_after_the_threshold_of_timeouts_in_a_row() {
        let containment = Containment::new(3);
        assert_eq!(containment.record("sub_1", true), Verdict::Keep);
        assert_eq!(containment.record("sub_1", true), Verdict::Keep);
        assert_eq!(containment.record("sub_1", false), Verdict::Keep, "a success resets the count");
        assert_eq!(containment.record("sub_1", true), Verdict::Keep);
        assert_eq!(containment.record("sub_1", true), Verdict::Keep);
        assert_eq!(containment.record("sub_1", true), Verdict::Pause { timeouts: 3 });
        assert!(containment.is_paused("sub_1"));
        assert_eq!(containment.record("sub_1", true), Verdict::Keep, "paused once");
        assert!(!containment.is_paused("sub_2"));
    }

    #[test]
    fn the_store_resumes_and_pauses_what_this_instance_knows() {
        let containment = Containment::new(1);
        assert_eq!(containment.record("sub_1", true), Verdict::Pause { timeouts: 1 });
        containment.observe("sub_1", false);
        assert!(!containment.is_paused("sub_1"));
        containment.observe("sub_2", true);
        assert!(containment.is_paused("sub_2"));
    }

    #[test]
    fn zero_never_pauses() {
        let containment = Containment::new(0);
        for _ in 0..100 {
            assert_eq!(containment.record("sub_1", true), Verdict::Keep);
        }
    }
}
