//! Per-endpoint sending limits and tenant shares, decided at claim time so that every instance sharing the
//! database keeps them together: a subscription's endpoint never has more than its `max_in_flight`
//! deliveries leased at once, its deliveries are sent no faster than its `rate_limit`, and a tenant never
//! has more than its share (`DeliveryClaim::max_in_flight_per_tenant`) leased at once.
//!
//! Both backends claim the same way, holding their database's claim lock: they read the due candidates
//! with each subscription's limits and state ([`Candidate`]), [`plan`] decides here, and they write the
//! [`ClaimPlan`] back in the same transaction. In-flight counts come from the deliveries' own leases, so a
//! crashed instance's slots free themselves when its leases run out.
//!
//! The rate limit is a GCRA (generic cell rate algorithm) schedule: each subscription keeps the time of its
//! next free send slot. Slots are `1000 / rate` ms apart and an idle endpoint may catch up one second's worth
//! at once (a burst of `rate`), so any one-second window sees at most `2 × rate` sends and a long run
//! averages `rate` per second. A delivery whose slot is in the future is not leased but *deferred* to that
//! slot, marked as holding it: it is sent when due without taking another slot, so a backlog is spread out
//! once rather than re-examined on every claim. A destination's budget (see `pacing`) is decided in the same
//! pass.

use std::collections::HashMap;

use super::Millis;
use super::pacing::{Admit, DestinationCandidate, Pacing};

/// The longest burst an idle rate-limited endpoint may catch up, in ms.
const BURST_WINDOW_MS: f64 = 1000.0;

/// One due delivery a claim may take, with its subscription's limits and state, in due order.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub subscription_id: String,
    pub tenant_id: String,
    /// Deliveries of this tenant leased right now (by any instance).
    pub tenant_in_flight: u32,
    /// The delivery already holds a rate-limit slot (it was deferred to it).
    pub holds_rate_slot: bool,
    /// Deliveries of this subscription leased right now (by any instance).
    pub in_flight: u32,
    /// The subscription's concurrency bound (its own, or the service's default).
    pub max_in_flight: u32,
    /// Sends per second, if limited.
    pub rate_limit: Option<u32>,
    /// The subscription's next free send slot, if it has sent under a rate limit before.
    pub next_slot_at: Option<f64>,
    /// Its destination's budget and state, when it has a destination.
    pub destination: Option<DestinationCandidate>,
}

/// What a claim does with its candidates.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ClaimPlan {
    /// Candidates (by index) to lease and send now.
    pub lease: Vec<usize>,
    /// Candidates (by index) to defer to a rate-limit slot (when they become due, holding it).
    pub defer: Vec<(usize, Millis)>,
    /// Each rate-limited subscription's next free slot after this claim.
    pub next_slots: Vec<(String, f64)>,
    /// Leased candidates (by index) that go out in the batch of another (the leader's index).
    pub batched: Vec<(usize, usize)>,
    /// Each paced destination's next free slot after this claim.
    pub destination_slots: Vec<(String, f64)>,
}

/// Decides which candidates to send now, which to defer, and which to leave for a later claim (those of an
/// endpoint with no free concurrency slot, or of a tenant at its share: they stay due, untouched).
pub(crate) fn plan(candidates: &[Candidate], now: Millis, max_per_tenant: u32) -> ClaimPlan {
    struct Endpoint {
        free: u32,
        next_slot_at: Option<f64>,
        rate_limited: bool,
    }
    let now_ms = now as f64;
    let mut endpoints: HashMap<&str, Endpoint> = HashMap::new();
    let mut tenants: HashMap<&str, u32> = HashMap::new();
    let mut pacing = Pacing::default();
    let mut plan = ClaimPlan::default();
    for (index, candidate) in candidates.iter().enumerate() {
        let tenant_free = tenants
            .entry(&candidate.tenant_id)
            .or_insert_with(|| max_per_tenant.saturating_sub(candidate.tenant_in_flight));
        if *tenant_free == 0 {
            continue;
        }
        let endpoint = endpoints.entry(&candidate.subscription_id).or_insert_with(|| Endpoint {
            free: candidate.max_in_flight.saturating_sub(candidate.in_flight),
            next_slot_at: candidate.next_slot_at,
            rate_limited: false,
        });
        if endpoint.free == 0 {
            continue;
        }
        let admit = |pacing: &mut Pacing| match &candidate.destination {
            Some(destination) => pacing.admit(index, &candidate.subscription_id, destination, now),
            None => Admit::Send,
        };
        match candidate.rate_limit.filter(|_| !candidate.holds_rate_slot) {
            None => match admit(&mut pacing) {
                Admit::Wait => {}
                admitted => {
                    endpoint.free -= 1;
                    *tenant_free -= 1;
                    plan.lease.push(index);
                    if let Admit::Join(leader) = admitted {
                        plan.batched.push((index, leader));
                    }
                }
            },
            Some(rate) => {
                let interval = 1000.0 / f64::from(rate.max(1));
                let earliest = now_ms - (BURST_WINDOW_MS - interval).max(0.0);
                let slot = endpoint.next_slot_at.unwrap_or(earliest).max(earliest);
                endpoint.next_slot_at = Some(slot + interval);
                endpoint.rate_limited = true;
                if slot <= now_ms {
                    if admit(&mut pacing) == Admit::Wait {
                        continue;
                    }
                    endpoint.free -= 1;
                    *tenant_free -= 1;
                    plan.lease.push(index);
                } else {
                    plan.defer.push((index, slot.ceil() as Millis));
                }
            }
        }
    }
    let mut next_slots: Vec<(String, f64)> = endpoints
        .into_iter()
        .filter(|(_, endpoint)| endpoint.rate_limited)
        .filter_map(|(id, endpoint)| Some((id.to_owned(), endpoint.next_slot_at?)))
        .collect();
    next_slots.sort_by(|a, b| a.0.cmp(&b.0));
    plan.next_slots = next_slots;
    plan.destination_slots = pacing.next_slots();
    plan
}

/// Marks the leased deliveries that go out in one batch with the id of its first (`deliveries` by
/// candidate index, as planned).
pub(crate) fn mark_batches(plan: &ClaimPlan, deliveries: &mut [Option<super::ClaimedDelivery>]) {
    for &(member, leader) in &plan.batched {
        let leader_id = deliveries[leader].as_ref().map(|delivery| delivery.id.clone());
        if let Some(delivery) = deliveries[leader].as_mut() {
            delivery.batch_leader = leader_id.clone();
        }
        if let Some(delivery) = deliveries[member].as_mut() {
            delivery.batch_leader = leader_id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(subscription: &str, in_flight: u32, max_in_flight: u32, rate: Option<u32>) -> Candidate {
        Candidate {
            subscription_id: subscription.to_owned(),
            tenant_id: "t".to_owned(),
            tenant_in_flight: 0,
            holds_rate_slot: false,
            in_flight,
            max_in_flight,
            rate_limit: rate,
            next_slot_at: None,
            destination: None,
        }
    }

    #[test]
    fn unlimited_candidates_are_all_leased() {
        let candidates = vec![candidate("a", 0, 64, None), candidate("b", 3, 64, None)];
        assert_eq!(
            plan(&candidates, 1_000, u32::MAX),
            ClaimPlan { lease: vec![0, 1], ..ClaimPlan::default() }
        );
    }

    #[test]
    fn concurrency_counts_what_is_in_flight_and_leaves_the_rest_due() {
        let candidates: Vec<_> = (0..5).map(|_| candidate("a", 2, 4, None)).collect();
        let plan = plan(&candidates, 1_000, u32::MAX);
        assert_eq!(plan.lease, vec![0, 1]);
        assert!(plan.defer.is_empty() && plan.next_slots.is_empty());
    }

    #[test]
    fn a_full_endpoint_does_not_hold_up_another() {
        let candidates =
            vec![candidate("busy", 4, 4, None), candidate("busy", 4, 4, None), candidate("idle", 0, 4, None)];
        assert_eq!(plan(&candidates, 1_000, u32::MAX).lease, vec![2]);
    }

    #[test]
    fn an_idle_rate_limited_endpoint_bursts_one_second_then_spreads_the_rest() {
        let now = 10_000;
        let candidates: Vec<_> = (0..8).map(|_| candidate("a", 0, 100, Some(5))).collect();
        let plan = plan(&candidates, now, u32::MAX);
        assert_eq!(plan.lease, vec![0, 1, 2, 3, 4]);
        // 200 ms apart after the burst.
        assert_eq!(plan.defer, vec![(5, now + 200), (6, now + 400), (7, now + 600)]);
        assert_eq!(plan.next_slots, vec![("a".to_owned(), (now + 800) as f64)]);
    }

    #[test]
    fn the_next_claim_continues_after_the_slots_already_given() {
        let now = 10_000;
        let earlier =
            ClaimPlan { next_slots: vec![("a".to_owned(), (now + 800) as f64)], ..Default::default() };
        let mut later = candidate("a", 0, 100, Some(5));
        later.next_slot_at = Some(earlier.next_slots[0].1);
        let plan = plan(&[later.clone(), later], now + 10, u32::MAX);
        assert!(plan.lease.is_empty());
        assert_eq!(plan.defer, vec![(0, now + 800), (1, now + 1_000)]);
    }

    #[test]
    fn a_deferred_delivery_is_sent_when_due_without_another_slot() {
        let mut due = candidate("a", 0, 100, Some(1));
        due.holds_rate_slot = true;
        due.next_slot_at = Some(50_000.0);
        let plan = plan(&[due], 20_000, u32::MAX);
        assert_eq!(plan.lease, vec![0]);
        assert!(plan.next_slots.is_empty(), "holding a slot takes none: {plan:?}");
    }

    #[test]
    fn a_tenant_at_its_share_leaves_room_for_another() {
        let mut candidates: Vec<_> = (0..6).map(|n| candidate(&format!("gamma{n}"), 0, 64, None)).collect();
        for candidate in &mut candidates {
            candidate.tenant_id = "gamma".into();
            candidate.tenant_in_flight = 2;
        }
        let mut delta = candidate("delta", 0, 64, None);
        delta.tenant_id = "delta".into();
        candidates.push(delta);
        // A share of 4: gamma has 2 in flight, so 2 more; delta's is leased though it comes last.
        assert_eq!(plan(&candidates, 1_000, 4).lease, vec![0, 1, 6]);
    }

    #[test]
    fn rate_and_concurrency_limits_hold_together() {
        let candidates: Vec<_> = (0..6).map(|_| candidate("a", 1, 3, Some(10))).collect();
        let plan = plan(&candidates, 5_000, u32::MAX);
        // Two free slots: two sent; the others wait for a slot, not deferred (no rate slot taken).
        assert_eq!(plan.lease, vec![0, 1]);
        assert!(plan.defer.is_empty());
        assert_eq!(plan.next_slots.len(), 1);
    }

    #[test]
    fn over_a_long_run_the_rate_is_kept() {
        // Claims every 50 ms for 10 s, a steady backlog: count what is sent in each one-second window.
        let rate = 20;
        let mut next_slot_at = None;
        let mut deferred: Vec<Millis> = Vec::new();
        let mut sent: Vec<Millis> = Vec::new();
        for tick in 0..200 {
            let now = tick * 50;
            let due: Vec<bool> = {
                let (ready, later): (Vec<_>, Vec<_>) = deferred.iter().partition(|at| **at <= now);
                deferred = later;
                ready.iter().map(|_| true).chain((0..10).map(|_| false)).collect()
            };
            let candidates: Vec<Candidate> = due
                .iter()
                .map(|holds| Candidate {
                    holds_rate_slot: *holds,
                    next_slot_at,
                    ..candidate("a", 0, 1_000, Some(rate))
                })
                .collect();
            let plan = plan(&candidates, now, u32::MAX);
            sent.extend(plan.lease.iter().map(|_| now));
            deferred.extend(plan.defer.iter().map(|(_, at)| *at));
            if let Some((_, slot)) = plan.next_slots.first() {
                next_slot_at = Some(*slot);
            }
        }
        for start in (0..9_000).step_by(50) {
            let in_window = sent.iter().filter(|at| (start..start + 1_000).contains(*at)).count();
            assert!(in_window <= 2 * rate as usize, "{in_window} sends in the second from {start} ms");
        }
        let total = sent.len() as f64;
        assert!((195.0..=225.0).contains(&total), "{total} sends in 10 s at {rate}/s");
    }
}
