//! This instance's sending capacity — its send slots, the tenants' shares of them, and the sends finished
//! whose attempts are not recorded yet — and the hand-off of freshly committed deliveries into it.
//!
//! The delivery worker claims due deliveries for the slots it has free. The pipeline, before it commits a
//! group of processed events, reserves free slots ([`SendCapacity::reserve`]); the store leases, in that
//! commit's transaction, the new deliveries the claim would have taken at once (see `store::handoff`), and
//! they go to the worker in memory ([`SendCapacity::hand`]) without a claim reading them back. Unused slots
//! return at once. The store keeps the truth: a handed delivery is leased like a claimed one, so a crash
//! before its attempt is recorded leaves it to another instance's claim when the lease runs out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::lanes::TenantShares;
use crate::store::{ClaimedDelivery, HandOffTerms, Millis};

/// Deliveries sent whose attempts are not recorded yet: no longer in flight, though still leased. By
/// delivery id: when its lease runs out.
pub type SentUnrecorded = HashMap<String, Millis>;

/// Deliveries leased by a commit for this instance's worker, with the send slots reserved for them.
pub struct Handed {
    pub deliveries: Vec<ClaimedDelivery>,
    /// One slot per delivery.
    pub slots: OwnedSemaphorePermit,
    /// When they were leased: their leases run until this plus the lease.
    pub leased_at: Millis,
}

/// Free send slots reserved for one commit, and the terms the store hands over on.
pub struct Reservation {
    slots: OwnedSemaphorePermit,
    pub terms: HandOffTerms,
}

pub struct SendCapacity {
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    /// The tenants' shares of the slots.
    pub shares: TenantShares,
    pub sent: Arc<Mutex<SentUnrecorded>>,
    lease_ms: i64,
    max_in_flight_per_endpoint: u32,
    handed: mpsc::UnboundedSender<Handed>,
    arrivals: Mutex<Option<mpsc::UnboundedReceiver<Handed>>>,
    /// Sendable deliveries this instance's commits left for the claim, less those the claim has taken
    /// since: while there are some, freed slots are worth a claim (see [`SendCapacity::claim_may_find_more`]).
    left_for_claim: AtomicUsize,
    /// The last claim took some: a backlog (a replay, retries, what was stored before a restart) may be
    /// draining through the claim, as fast as slots free up.
    last_claim_took_some: AtomicBool,
}

impl SendCapacity {
    /// `max_in_flight` sends at once; deliveries handed over are leased for `lease_ms` and each endpoint
    /// bounded by `max_in_flight_per_endpoint` unless its subscription says otherwise (as the claim).
    pub fn new(max_in_flight: usize, lease_ms: i64, max_in_flight_per_endpoint: u32) -> SendCapacity {
        let (handed, arrivals) = mpsc::unbounded_channel();
        SendCapacity {
            slots: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            shares: TenantShares::new(max_in_flight),
            sent: Arc::default(),
            lease_ms,
            max_in_flight_per_endpoint,
            handed,
            arrivals: Mutex::new(Some(arrivals)),
            left_for_claim: AtomicUsize::new(0),
            last_claim_took_some: AtomicBool::new(false),
        }
    }

    /// A commit stored `deliveries` sendable deliveries without handing them over: the claim's.
    pub fn left_for_claim(&self, deliveries: usize) {
        if deliveries > 0 {
            self.left_for_claim.fetch_add(deliveries, Ordering::Relaxed);
        }
    }

    /// The claim took `deliveries`.
    pub fn claimed(&self, deliveries: usize) {
        self.last_claim_took_some.store(deliveries > 0, Ordering::Relaxed);
        let _ = self
            .left_for_claim
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| Some(left.saturating_sub(deliveries)));
    }

    /// Whether a claim as slots free up may find deliveries: the last claim took some (a backlog may be
    /// draining), or some this instance's commits left for the claim are not claimed yet (waiting for a
    /// slot, an endpoint's or a tenant's bound, or their lane). When neither — every delivery went
    /// straight to the worker — the slots the handed sends free need no claim, which would walk every
    /// delivery in flight to find nothing. Retries coming due and other instances' deliveries are found
    /// by the poll.
    pub fn claim_may_find_more(&self) -> bool {
        self.last_claim_took_some.load(Ordering::Relaxed) || self.left_for_claim.load(Ordering::Relaxed) > 0
    }

    /// The send slots: a permit per send in flight.
    pub fn slots(&self) -> &Arc<Semaphore> {
        &self.slots
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Where handed deliveries arrive; taken once, by the worker.
    pub fn take_arrivals(&self) -> Option<mpsc::UnboundedReceiver<Handed>> {
        self.arrivals.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }

    /// The sent deliveries whose leases still run at `now`: they do not count as in flight.
    pub fn sent_still_ours(&self, now: Millis) -> Vec<String> {
        let sent = self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sent.iter().filter(|(_, lease_until)| **lease_until > now).map(|(id, _)| id.clone()).collect()
    }

    /// Reserves up to `wanted` free slots for a commit at `now`; `None` when none is free or none wanted.
    pub fn reserve(&self, wanted: usize, now: Millis) -> Option<Reservation> {
        let free = self.slots.available_permits().min(wanted).min(u32::MAX as usize) as u32;
        if free == 0 {
            return None;
        }
        let slots = self.slots.clone().try_acquire_many_owned(free).ok()?;
        let terms = HandOffTerms {
            room: free,
            lease_ms: self.lease_ms,
            now,
            default_max_in_flight: self.max_in_flight_per_endpoint,
            max_in_flight_per_tenant: self.shares.per_tenant(),
            sent: self.sent_still_ours(now),
            default_budget: super::budgets::known::default_budget,
        };
        Some(Reservation { slots, terms })
    }

    /// Gives the deliveries the commit leased to the worker with a slot each; the other slots are free
    /// again. False if the worker has stopped (the deliveries' leases run out and they are claimed again).
    pub fn hand(&self, reservation: Reservation, deliveries: Vec<ClaimedDelivery>) -> bool {
        let Reservation { mut slots, terms } = reservation;
        if deliveries.is_empty() {
            return true;
        }
        let Some(theirs) = slots.split(deliveries.len()) else {
            // More deliveries than slots: the store honours `room`, so this does not happen.
            tracing::error!(
                handed = deliveries.len(),
                room = terms.room,
                "handed more deliveries than slots"
            );
            return false;
        };
        drop(slots);
        self.handed.send(Handed { deliveries, slots: theirs, leased_at: terms.now }).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_takes_free_slots_and_gives_back_what_is_not_handed() {
        let capacity = SendCapacity::new(4, 60_000, 2);
        let reservation = capacity.reserve(10, 1_000).expect("slots are free");
        assert_eq!(reservation.terms.room, 4);
        assert_eq!(reservation.terms.lease_ms, 60_000);
        assert_eq!(reservation.terms.default_max_in_flight, 2);
        assert_eq!(capacity.slots().available_permits(), 0);
        assert!(capacity.reserve(1, 1_000).is_none(), "no slot is free");
        assert!(capacity.hand(reservation, Vec::new()));
        assert_eq!(capacity.slots().available_permits(), 4);

        capacity.sent.lock().unwrap().extend([("old".to_owned(), 500), ("new".to_owned(), 2_000)]);
        let reservation = capacity.reserve(1, 1_000).unwrap();
        assert_eq!(reservation.terms.room, 1);
        assert_eq!(reservation.terms.sent, ["new"], "a sent delivery whose lease ran out is not ours");
    }

    #[test]
    fn freed_slots_are_worth_a_claim_only_while_deliveries_wait_for_it() {
        let capacity = SendCapacity::new(4, 60_000, 2);
        assert!(!capacity.claim_may_find_more(), "everything was handed over");
        capacity.left_for_claim(3);
        assert!(capacity.claim_may_find_more());
        capacity.claimed(2);
        assert!(capacity.claim_may_find_more(), "one is still waiting");
        capacity.claimed(5);
        assert!(capacity.claim_may_find_more(), "the last claim took some: more may be draining");
        capacity.claimed(0);
        assert!(!capacity.claim_may_find_more(), "another instance's deliveries do not make it negative");
        capacity.left_for_claim(1);
        assert!(capacity.claim_may_find_more());
    }
}
