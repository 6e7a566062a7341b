//! Destination budgets at claim time, kept by every instance together: a destination (the account its
//! requests go to, `{tenant} {host}`) with a budget of `requests` per `window_ms` gets one send slot every
//! `window_ms / requests`, with no burst, so no window of that length sees more than its budget. The claim
//! leaves a destination's deliveries untouched while its next slot is ahead (or it is paused); at a slot it
//! leases the first, and — when the plugin that made them merges requests — the others of the same
//! subscription that wait with it, up to a batch's limit, to go out as one request. Slots are kept in the
//! database like the endpoints' rate-limit slots (see `throttle`).

use std::collections::HashMap;

use super::{Budget, Millis};

/// The most deliveries one batch carries (a plugin may split them into more requests than one).
pub(crate) const MAX_BATCH: u32 = 100;

/// What a candidate delivery's destination says about it.
#[derive(Debug, Clone)]
pub(crate) struct DestinationCandidate {
    pub destination: String,
    /// Its budget: the one set for it, or the service's default for its host.
    pub budget: Option<Budget>,
    /// Its next free send slot, if it has sent under a budget before.
    pub next_slot_at: Option<f64>,
    /// The plugin version that made the delivery.
    pub plugin: String,
    /// That plugin merges requests.
    pub merges: bool,
    /// The most deliveries a batch carrying this one may hold.
    pub batch_limit: Option<u32>,
}

/// What the claim does with a candidate for its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Send it now (it takes the slot, or its destination has no budget).
    Send,
    /// Send it in the batch of the candidate at this index.
    Join(usize),
    /// Leave it due: its destination's next slot is ahead.
    Wait,
}

/// An open batch: the candidate leading it, and what a member must share with it.
struct Batch {
    leader: usize,
    subscription_id: String,
    plugin: String,
    size: u32,
    limit: u32,
}

struct Destination {
    next_slot_at: Option<f64>,
    paced: bool,
    batch: Option<Batch>,
}

/// The destinations of one claim.
#[derive(Default)]
pub(crate) struct Pacing {
    destinations: HashMap<String, Destination>,
}

impl Pacing {
    /// Admits the candidate at `index` (of `subscription_id`) at `now`.
    pub fn admit(
        &mut self,
        index: usize,
        subscription_id: &str,
        candidate: &DestinationCandidate,
        now: Millis,
    ) -> Admit {
        let Some(budget) = candidate.budget else { return Admit::Send };
        let now_ms = now as f64;
        let destination = self.destinations.entry(candidate.destination.clone()).or_insert_with(|| {
            Destination { next_slot_at: candidate.next_slot_at, paced: false, batch: None }
        });
        if let Some(batch) = &mut destination.batch
            && candidate.merges
            && batch.subscription_id == subscription_id
            && batch.plugin == candidate.plugin
            && batch.size < batch.limit.min(candidate.batch_limit.unwrap_or(MAX_BATCH))
        {
            batch.size += 1;
            return Admit::Join(batch.leader);
        }
        let slot = destination.next_slot_at.unwrap_or(now_ms).max(now_ms);
        if slot > now_ms {
            return Admit::Wait;
        }
        let interval = budget.window_ms as f64 / f64::from(budget.requests.max(1));
        destination.next_slot_at = Some(slot + interval);
        destination.paced = true;
        destination.batch = candidate.merges.then(|| Batch {
            leader: index,
            subscription_id: subscription_id.to_owned(),
            plugin: candidate.plugin.clone(),
            size: 1,
            limit: candidate.batch_limit.unwrap_or(MAX_BATCH).clamp(1, MAX_BATCH),
        });
        Admit::Send
    }

    /// Each paced destination's next free slot after this claim, by name.
    pub fn next_slots(self) -> Vec<(String, f64)> {
        let mut slots: Vec<(String, f64)> = self
            .destinations
            .into_iter()
            .filter(|(_, destination)| destination.paced)
            .filter_map(|(name, destination)| Some((name, destination.next_slot_at?)))
            .collect();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheets(merges: bool) -> DestinationCandidate {
        DestinationCandidate {
            destination: "acme sheets.googleapis.com".into(),
            budget: Some(Budget { requests: 60, window_ms: 60_000 }),
            next_slot_at: None,
            plugin: "google-sheets@1".into(),
            merges,
            batch_limit: None,
        }
    }

    #[test]
    fn a_budget_gives_one_slot_per_interval_without_a_burst() {
        let mut pacing = Pacing::default();
        let candidate = sheets(false);
        assert_eq!(pacing.admit(0, "sub", &candidate, 10_000), Admit::Send);
        assert_eq!(pacing.admit(1, "sub", &candidate, 10_000), Admit::Wait);
        assert_eq!(pacing.next_slots(), vec![("acme sheets.googleapis.com".to_owned(), 11_000.0)]);
    }

    #[test]
    fn what_waits_with_a_merging_plugin_goes_in_one_batch_up_to_its_limit() {
        let mut pacing = Pacing::default();
        let mut candidate = sheets(true);
        candidate.batch_limit = Some(3);
        assert_eq!(pacing.admit(0, "sub", &candidate, 0), Admit::Send);
        assert_eq!(pacing.admit(1, "sub", &candidate, 0), Admit::Join(0));
        assert_eq!(
            pacing.admit(2, "other-sub", &candidate, 0),
            Admit::Wait,
            "another subscription's plugin run"
        );
        assert_eq!(pacing.admit(3, "sub", &candidate, 0), Admit::Join(0));
        assert_eq!(pacing.admit(4, "sub", &candidate, 0), Admit::Wait, "the batch is full");
    }

    #[test]
    fn a_destination_without_a_budget_is_not_paced() {
        let mut pacing = Pacing::default();
        let free = DestinationCandidate { budget: None, ..sheets(true) };
        for index in 0..10 {
            assert_eq!(pacing.admit(index, "sub", &free, 0), Admit::Send);
        }
        assert!(pacing.next_slots().is_empty());
    }

    #[test]
    fn the_next_claim_waits_for_the_slot_it_was_given() {
        let later = DestinationCandidate { next_slot_at: Some(5_000.0), ..sheets(false) };
        assert_eq!(Pacing::default().admit(0, "sub", &later, 4_999), Admit::Wait);
        assert_eq!(Pacing::default().admit(0, "sub", &later, 5_000), Admit::Send);
    }
}
