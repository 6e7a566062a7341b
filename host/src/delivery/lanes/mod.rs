//! Delivery lanes: what a delivery belongs to besides its endpoint, and what that promises.
//!
//! - **An ordering key** ([`key`]). A subscription may name a path into its events (`call.id`,
//!   `contact.id`, `event.tenant`). The deliveries of events with the same value form a *lane*: one at a
//!   time, in the order the events were accepted (each event's acceptance sequence, [`ClaimedEvent::seq`]),
//!   and within one event in the order the plugin returned its requests. The first unfinished delivery of a
//!   lane is its *head*: it holds the key while it is in flight, waiting for a retry, or while its plugin
//!   failed transiently and will run again; the rest of the lane waits, every other lane goes on. A head
//!   that runs out of retries, or holds its key longer than the hold bound ([`HoldBound`]), is dead-lettered
//!   with a reason that says so, and the key moves on. A dead delivery retried by hand leaves its lane.
//!   The store keeps all of it at claim time (a delivery is claimable only as its lane's head, and only
//!   once no earlier event of its tenant is still going through its plugins), so it holds across
//!   attempts, restarts and every instance sharing the database.
//! - **A tenant share** ([`share`]). Claims give each tenant at most its share of the in-flight capacity,
//!   counted across instances from the deliveries' leases, so one tenant's sends stuck on a dead host
//!   never take the capacity another's need.
//!
//! Acceptance order is the order events became durable: an event posted after another's `202` always
//! comes after it. Events whose posts overlap (sent concurrently, neither waiting for the other's answer)
//! have no order between them; a platform that needs one posts them one after the other.

pub mod key;
pub mod share;

use crate::store::{ClaimedEvent, LanePlace, Millis, Subscription};

pub use key::OrderingKey;
pub use share::TenantShares;

/// Where a delivery of `event` for `subscription`, the `index`th request of its run, goes: its lane's
/// place, or `None` when the subscription is unordered or the event has no value for the key (those are
/// delivered unordered).
pub fn place(subscription: &Subscription, event: &ClaimedEvent, index: u32) -> Option<LanePlace> {
    let key = OrderingKey::parse(subscription.ordering_key.as_deref()?).ok()?;
    Some(LanePlace { key: key.value_in(event)?, seq: event.seq, index })
}

/// How long one head may hold its key, from its first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldBound {
    pub max_hold_ms: i64,
}

/// What the hold bound makes of a failed attempt of a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldVerdict {
    /// Retry at this time (the schedule's, or earlier: the last try is at the bound).
    RetryAt(Millis),
    /// The bound is reached: dead-letter it, and let the key move on.
    Release,
}

impl HoldBound {
    pub fn from_secs(secs: u32) -> HoldBound {
        HoldBound { max_hold_ms: i64::from(secs) * 1000 }
    }

    /// A head first attempted at `first_attempt_at` failed at `now`; the retry schedule would try again at
    /// `scheduled` (`None`: it has run out).
    pub fn judge(&self, first_attempt_at: Millis, now: Millis, scheduled: Option<Millis>) -> HoldVerdict {
        let deadline = first_attempt_at.saturating_add(self.max_hold_ms);
        match scheduled {
            _ if now >= deadline => HoldVerdict::Release,
            Some(at) => HoldVerdict::RetryAt(at.min(deadline)),
            None => HoldVerdict::Release,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_head_retries_on_its_schedule_within_the_bound() {
        let bound = HoldBound::from_secs(600);
        assert_eq!(bound.judge(0, 1_000, Some(61_000)), HoldVerdict::RetryAt(61_000));
    }

    #[test]
    fn the_last_try_is_at_the_bound_then_the_key_is_released() {
        let bound = HoldBound::from_secs(600);
        // The schedule says 30 min later; the bound says 10 min after the first attempt.
        assert_eq!(bound.judge(0, 300_000, Some(2_100_000)), HoldVerdict::RetryAt(600_000));
        assert_eq!(bound.judge(0, 600_000, Some(2_400_000)), HoldVerdict::Release);
    }

    #[test]
    fn a_head_out_of_retries_releases_its_key() {
        assert_eq!(HoldBound::from_secs(3_600).judge(0, 5_000, None), HoldVerdict::Release);
    }
}
