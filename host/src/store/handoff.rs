//! Handing new deliveries straight to a delivery worker: which of the deliveries a commit stores are
//! leased in that same transaction, so that no claim has to find them, read them back and lease them.
//!
//! Only what the claim would take at once with nothing to decide but room ([`HandOff::lease_for`]): a
//! delivery due now, with a request, in no ordered lane, of an enabled subscription that sets no rate
//! limit, to a destination with no budget and no pause, within its endpoint's and its tenant's in-flight
//! bounds — counted as the claim counts them, from the leases in the store (other than the worker's `sent`
//! ones), in the commit's own transaction, so the bounds hold across every instance. The rest is stored
//! unleased, as before, and claimed. A handed delivery's lease covers a crash like a claimed one's: if the
//! instance dies before its attempt is recorded, another claims it when the lease runs out.
//!
//! The backends read the facts ([`HandOffFacts`]) for the subscriptions, tenants and destinations
//! [`HandOff::wanted`] names, then lease as this module decides.

use std::collections::{HashMap, HashSet};

use super::{Budget, ClaimedDelivery, DeliveryStatus, Millis, NewDelivery, ProcessedEvent, StoredRequest};

/// What a delivery worker offers a commit: room for this many sends now, and the claim's bounds.
#[derive(Debug, Clone)]
pub struct HandOffTerms {
    /// At most this many deliveries (the worker's free send slots, reserved for the commit).
    pub room: u32,
    /// Leased until `now + lease_ms`.
    pub lease_ms: i64,
    pub now: Millis,
    /// An endpoint's concurrency bound when its subscription sets none.
    pub default_max_in_flight: u32,
    /// A tenant's share of the sending capacity (as [`super::DeliveryClaim::max_in_flight_per_tenant`]).
    pub max_in_flight_per_tenant: u32,
    /// Leased deliveries the worker has finished sending, not yet recorded: not in flight.
    pub sent: Vec<String>,
    /// The budget of a destination that has none set.
    pub default_budget: fn(&str) -> Option<Budget>,
}

impl HandOffTerms {
    /// Terms that hand nothing over: the commit stores its deliveries for the claim.
    pub fn none(now: Millis) -> HandOffTerms {
        HandOffTerms {
            room: 0,
            lease_ms: 0,
            now,
            default_max_in_flight: 0,
            max_in_flight_per_tenant: 0,
            sent: Vec::new(),
            default_budget: |_| None,
        }
    }
}

/// A subscription as a handed delivery needs it, read in the commit's transaction.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionTerms {
    pub tenant_id: String,
    /// Enabled and without a rate limit: nothing for the claim to decide but room.
    pub unthrottled: bool,
    /// Its concurrency bound (its own, or the default).
    pub max_in_flight: u32,
    /// Its deliveries leased now, other than the worker's sent ones.
    pub in_flight: u32,
    /// Its signing secrets (the previous one only within its grace period).
    pub secrets: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub endpoint_url: String,
    pub connections: Vec<String>,
    pub ordering_max_hold_secs: Option<u32>,
    pub trace_context: bool,
}

/// What the backend read for one commit's hand-off.
#[derive(Debug, Default)]
pub(crate) struct HandOffFacts {
    /// By id; a subscription not found (deleted meanwhile) is absent.
    pub subscriptions: HashMap<String, SubscriptionTerms>,
    /// Each tenant's deliveries leased now, other than the worker's sent ones.
    pub tenants_in_flight: HashMap<String, u32>,
    /// Destinations with a budget set, a pause or a send slot ahead: their deliveries go through the claim.
    pub paced_destinations: HashSet<String>,
}

/// The facts a hand-off needs, by name: what the backend is to read.
#[derive(Debug, Default)]
pub(crate) struct Wanted<'a> {
    pub subscriptions: Vec<&'a str>,
    pub tenants: Vec<&'a str>,
    pub destinations: Vec<&'a str>,
}

/// One commit's hand-off: decides, delivery by delivery as they are stored, which to lease.
pub(crate) struct HandOff<'t> {
    terms: &'t HandOffTerms,
    facts: HandOffFacts,
    handed: Vec<ClaimedDelivery>,
}

impl<'t> HandOff<'t> {
    /// What the backend must read before [`HandOff::new`]; nothing when there is no room.
    pub fn wanted<'a>(processed: &'a [ProcessedEvent], terms: &HandOffTerms) -> Wanted<'a> {
        let mut wanted = Wanted::default();
        if terms.room == 0 {
            return wanted;
        }
        let candidates =
            processed.iter().flat_map(|event| &event.deliveries).filter(|d| shaped(d, terms.now));
        for delivery in candidates {
            push_new(&mut wanted.subscriptions, &delivery.subscription_id);
            push_new(&mut wanted.tenants, &delivery.tenant_id);
            if let Some(destination) = &delivery.destination {
                push_new(&mut wanted.destinations, destination);
            }
        }
        wanted
    }

    pub fn new(terms: &'t HandOffTerms, facts: HandOffFacts) -> HandOff<'t> {
        HandOff { terms, facts, handed: Vec::new() }
    }

    /// The lease `delivery` is stored with: until `now + lease_ms` if it is handed over (and then it is
    /// counted against its bounds), 0 if it is left for the claim.
    pub fn lease_for(&mut self, delivery: &NewDelivery) -> Millis {
        let terms = self.terms;
        let Some(request) = delivery.request.as_ref().filter(|_| shaped(delivery, terms.now)) else {
            return 0;
        };
        if self.handed.len() >= terms.room as usize {
            return 0;
        }
        let destination = delivery.destination.as_deref().unwrap_or_default();
        if self.facts.paced_destinations.contains(destination)
            || (terms.default_budget)(destination).is_some()
        {
            return 0;
        }
        let Some(subscription) = self.facts.subscriptions.get_mut(&delivery.subscription_id) else {
            return 0;
        };
        let tenant_in_flight = self.facts.tenants_in_flight.entry(delivery.tenant_id.clone()).or_default();
        if !subscription.unthrottled
            || subscription.tenant_id != delivery.tenant_id
            || subscription.in_flight >= subscription.max_in_flight
            || *tenant_in_flight >= terms.max_in_flight_per_tenant
        {
            return 0;
        }
        subscription.in_flight += 1;
        *tenant_in_flight += 1;
        self.handed.push(claimed(delivery, request.clone(), subscription));
        terms.now.saturating_add(terms.lease_ms)
    }

    /// The deliveries leased, in the order they were stored.
    pub fn into_handed(self) -> Vec<ClaimedDelivery> {
        self.handed
    }
}

/// A delivery the claim would take with nothing to decide but room, by its own fields: pending with a
/// request, due at `now`, in no ordered lane.
fn shaped(delivery: &NewDelivery, now: Millis) -> bool {
    delivery.status == DeliveryStatus::Pending
        && delivery.request.is_some()
        && delivery.lane.is_none()
        && delivery.destination.is_some()
        && delivery.next_attempt_at.is_some_and(|at| at <= now)
}

fn push_new<'a>(names: &mut Vec<&'a str>, name: &'a str) {
    if !names.contains(&name) {
        names.push(name);
    }
}

/// The delivery as the claim would have returned it.
fn claimed(
    delivery: &NewDelivery,
    request: StoredRequest,
    subscription: &SubscriptionTerms,
) -> ClaimedDelivery {
    ClaimedDelivery {
        id: delivery.id.clone(),
        tenant_id: delivery.tenant_id.clone(),
        event_id: delivery.event_id.clone(),
        subscription_id: delivery.subscription_id.clone(),
        request,
        attempts: 0,
        secrets: subscription.secrets.clone(),
        subscription_headers: subscription.headers.clone(),
        endpoint_url: subscription.endpoint_url.clone(),
        connections: subscription.connections.clone(),
        ordering_key: None,
        first_attempt_at: None,
        ordering_max_hold_secs: subscription.ordering_max_hold_secs,
        plugin: delivery.plugin.clone(),
        destination: delivery.destination.clone(),
        batch_leader: None,
        created_at: delivery.created_at,
        trace_context: subscription.trace_context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LanePlace;

    const NOW: Millis = 1_000_000;

    fn terms(room: u32) -> HandOffTerms {
        HandOffTerms {
            room,
            lease_ms: 60_000,
            now: NOW,
            default_max_in_flight: 4,
            max_in_flight_per_tenant: 3,
            sent: Vec::new(),
            default_budget: crate::delivery::budgets::known::default_budget,
        }
    }

    fn delivery(id: &str, subscription: &str, host: &str) -> NewDelivery {
        NewDelivery {
            id: id.into(),
            tenant_id: "acme".into(),
            event_id: "evt_1".into(),
            subscription_id: subscription.into(),
            plugin: "template@1".into(),
            status: DeliveryStatus::Pending,
            request: Some(StoredRequest {
                method: "POST".into(),
                url: format!("https://{host}/hook"),
                headers: Vec::new(),
                body: b"{}".to_vec(),
            }),
            error: None,
            error_kind: None,
            logs_json: None,
            next_attempt_at: Some(NOW),
            created_at: NOW,
            lane: None,
            destination: Some(format!("acme {host}")),
            test: false,
            rerun_of: None,
        }
    }

    fn subscription(in_flight: u32, max_in_flight: u32) -> SubscriptionTerms {
        SubscriptionTerms {
            tenant_id: "acme".into(),
            unthrottled: true,
            max_in_flight,
            in_flight,
            secrets: vec!["whsec_x".into()],
            headers: Vec::new(),
            endpoint_url: "https://crm.example/hook".into(),
            connections: Vec::new(),
            ordering_max_hold_secs: None,
            trace_context: false,
        }
    }

    fn facts(subscriptions: &[(&str, SubscriptionTerms)], tenant_in_flight: u32) -> HandOffFacts {
        HandOffFacts {
            subscriptions: subscriptions.iter().map(|(id, s)| (id.to_string(), s.clone())).collect(),
            tenants_in_flight: [("acme".to_owned(), tenant_in_flight)].into(),
            paced_destinations: HashSet::new(),
        }
    }

    #[test]
    fn hands_over_within_the_endpoints_bound_then_leaves_the_rest_for_the_claim() {
        let terms = terms(10);
        let mut handoff = HandOff::new(&terms, facts(&[("sub_a", subscription(2, 4))], 0));
        let leases: Vec<Millis> =
            (0..3).map(|i| handoff.lease_for(&delivery(&format!("d{i}"), "sub_a", "crm.example"))).collect();
        assert_eq!(leases, [NOW + 60_000, NOW + 60_000, 0]);
        let handed = handoff.into_handed();
        assert_eq!(handed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["d0", "d1"]);
        assert_eq!(handed[0].secrets, ["whsec_x"]);
        assert_eq!(handed[0].endpoint_url, "https://crm.example/hook");
    }

    #[test]
    fn the_tenants_share_and_the_workers_room_bound_it_too() {
        let terms = terms(10);
        let mut handoff = HandOff::new(
            &terms,
            facts(&[("sub_a", subscription(0, 100)), ("sub_b", subscription(0, 100))], 1),
        );
        assert_ne!(handoff.lease_for(&delivery("d0", "sub_a", "crm.example")), 0);
        assert_ne!(handoff.lease_for(&delivery("d1", "sub_b", "crm.example")), 0);
        assert_eq!(handoff.lease_for(&delivery("d2", "sub_b", "crm.example")), 0, "share of 3, 1 in flight");

        let terms = self::terms(1);
        let mut handoff = HandOff::new(&terms, facts(&[("sub_a", subscription(0, 100))], 0));
        assert_ne!(handoff.lease_for(&delivery("d0", "sub_a", "crm.example")), 0);
        assert_eq!(handoff.lease_for(&delivery("d1", "sub_a", "crm.example")), 0, "room for one");
    }

    #[test]
    fn what_the_claim_must_decide_is_left_to_it() {
        let terms = terms(10);
        let mut throttled = subscription(0, 100);
        throttled.unthrottled = false;
        let mut facts = facts(&[("sub_a", subscription(0, 100)), ("sub_rate", throttled)], 0);
        facts.paced_destinations.insert("acme paused.example".into());
        let mut handoff = HandOff::new(&terms, facts);

        let mut ordered = delivery("lane", "sub_a", "crm.example");
        ordered.lane = Some(LanePlace { key: "call_1".into(), seq: 1, index: 0 });
        let mut later = delivery("later", "sub_a", "crm.example");
        later.next_attempt_at = Some(NOW + 1);
        let mut skipped = delivery("skipped", "sub_a", "crm.example");
        (skipped.status, skipped.request) = (DeliveryStatus::Skipped, None);
        for left in [
            ordered,
            later,
            skipped,
            delivery("rate", "sub_rate", "crm.example"),
            delivery("budget", "sub_a", "sheets.googleapis.com"),
            delivery("paused", "sub_a", "paused.example"),
            delivery("gone", "sub_deleted", "crm.example"),
        ] {
            assert_eq!(handoff.lease_for(&left), 0, "{} is the claim's", left.id);
        }
        assert!(handoff.into_handed().is_empty());
    }

    #[test]
    fn nothing_is_wanted_without_room() {
        let processed = [ProcessedEvent {
            tenant_id: "acme".into(),
            event_id: "evt_1".into(),
            deliveries: vec![delivery("d0", "sub_a", "crm.example"), delivery("d1", "sub_a", "x.example")],
        }];
        let wanted = HandOff::wanted(&processed, &terms(4));
        assert_eq!(wanted.subscriptions, ["sub_a"]);
        assert_eq!(wanted.tenants, ["acme"]);
        assert_eq!(wanted.destinations, ["acme crm.example", "acme x.example"]);
        assert!(HandOff::wanted(&processed, &terms(0)).subscriptions.is_empty());
    }
}
