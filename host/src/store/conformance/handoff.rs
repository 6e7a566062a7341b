//! Conformance behaviours of the hand-off (see `store::handoff`): a commit leases for the committing
//! instance's worker only what the claim would take at once, within the same bounds, and a handed delivery
//! is the claim's again once its lease runs out.

use super::*;
use crate::store::HandOffTerms;

/// Terms with room for `room` sends at `now`, the service's known budgets, nothing sent.
fn terms(room: u32, now: Millis) -> HandOffTerms {
    HandOffTerms {
        room,
        lease_ms: LEASE,
        now,
        default_max_in_flight: ENDPOINT_BOUND,
        max_in_flight_per_tenant: u32::MAX,
        sent: Vec::new(),
        default_budget: crate::delivery::budgets::known::default_budget,
    }
}

fn to(host: &str, delivery: NewDelivery) -> NewDelivery {
    NewDelivery { destination: Some(format!("acme {host}")), ..delivery }
}

pub async fn a_commit_hands_over_only_what_the_claim_would_take_at_once<B: Backend>(backend: &B) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    let bounded = Subscription { max_in_flight: Some(3), ..subscription("acme", "sub_1") };
    store.create_subscription(&bounded).await.unwrap();
    let rated = Subscription { rate_limit: Some(10), ..subscription("acme", "sub_rate") };
    store.create_subscription(&rated).await.unwrap();
    store.insert_events(&[event("acme", "evt_1", T0)]).await.unwrap();

    let mut deliveries: Vec<NewDelivery> = (1..=4)
        .map(|n| to("hooks.example.com", pending(&format!("dlv_{n}"), "acme", "evt_1", "sub_1", T0)))
        .collect();
    let mut ordered = to("hooks.example.com", pending("dlv_lane", "acme", "evt_1", "sub_1", T0));
    ordered.lane = Some(LanePlace { key: "call_1".to_owned(), seq: 1, index: 0 });
    deliveries.extend([
        ordered,
        to("hooks.example.com", pending("dlv_rate", "acme", "evt_1", "sub_rate", T0)),
        to("sheets.googleapis.com", pending("dlv_budget", "acme", "evt_1", "sub_1", T0)),
        to("hooks.example.com", pending("dlv_later", "acme", "evt_1", "sub_1", T0 + 5_000)),
    ]);
    let processed = ProcessedEvent { tenant_id: "acme".to_owned(), event_id: "evt_1".to_owned(), deliveries };
    let handed = store.complete_events_handing_off(vec![processed], terms(10, T0)).await.unwrap();
    let handed_ids: HashSet<String> = handed.iter().map(|d| d.id.clone()).collect();

    if B::HANDS_OVER {
        assert_eq!(handed.len(), 3, "within sub_1's bound of 3: {handed_ids:?}");
    } else {
        assert!(handed.is_empty());
    }
    let plain: HashSet<String> = (1..=4).map(|n| format!("dlv_{n}")).collect();
    assert!(handed_ids.is_subset(&plain), "only plain deliveries are handed over: {handed_ids:?}");
    for delivery in &handed {
        assert_eq!(delivery.secrets, ["whsec_current"]);
        assert_eq!(delivery.endpoint_url, "https://hooks.example.com/in");
        assert_eq!(delivery.connections, ["hubspot-main"]);
        assert_eq!((delivery.attempts, delivery.plugin.as_str()), (0, "slack@1"));
    }

    // The claim takes none of them, and keeps sub_1's bound counting them.
    let claimed = claimed_ids(&*store, T0).await;
    assert!(claimed.iter().all(|id| !handed_ids.contains(id)), "{claimed:?} vs {handed_ids:?}");
    let sub_1_leased = handed.len() + claimed.iter().filter(|id| *id != "dlv_rate").count();
    assert!(sub_1_leased <= 3, "sub_1 has {sub_1_leased} in flight");
    assert!(claimed.contains(&"dlv_rate".to_owned()), "{claimed:?}");

    // No room: nothing is handed over.
    store.insert_events(&[event("acme", "evt_2", T0)]).await.unwrap();
    let processed = ProcessedEvent {
        tenant_id: "acme".to_owned(),
        event_id: "evt_2".to_owned(),
        deliveries: vec![to("hooks.example.com", pending("dlv_5", "acme", "evt_2", "sub_rate", T0))],
    };
    assert!(store.complete_events_handing_off(vec![processed], terms(0, T0)).await.unwrap().is_empty());

    // A handed delivery whose worker died is claimed once its lease has run out (each claimed one is
    // recorded as sent, so sub_1's bound lets the next ones through).
    let mut after_lease = Vec::new();
    for round in 0..10 {
        let now = T0 + LEASE + 1 + round;
        let claimed = store.claim_deliveries(claim(100, LEASE, now)).await.unwrap();
        let records: Vec<_> = claimed
            .iter()
            .map(|d| outcome(&d.id, &d.subscription_id, now, DeliveryStatus::Succeeded))
            .collect();
        store.record_attempts(&records).await.unwrap();
        after_lease.extend(claimed.into_iter().map(|d| d.id));
    }
    assert!(handed_ids.iter().all(|id| after_lease.contains(id)), "{after_lease:?} vs {handed_ids:?}");
}
