//! Ordered lanes and tenant shares, as every backend's delivery claim must keep them: one head per key, in
//! acceptance order, behind no earlier event still being processed; a failing head or a plugin error that
//! will run again holds its key; a dead head releases it and, retried by hand, leaves its lane; a tenant
//! never has more than its share leased.

use super::*;
use crate::store::{ClaimedEvent, LanePlace};

/// Stores events `ids` of `acme` (in that order) and claims them for processing: their acceptance order.
async fn accept(store: &dyn Store, ids: &[&str]) -> Vec<ClaimedEvent> {
    let events: Vec<NewEvent> = ids.iter().map(|id| event("acme", id, T0)).collect();
    store.insert_events(&events).await.unwrap();
    let mut claimed = store.claim_events(100, LEASE, T0, &[]).await.unwrap();
    claimed.sort_by_key(|event| event.seq);
    let order: Vec<&str> = claimed.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(order, ids, "each event's seq follows the order it was stored in");
    claimed
}

/// A pending delivery of `event` in lane `key`, the plugin's `index`th request.
fn in_lane(id: &str, event: &ClaimedEvent, key: &str, index: u32) -> NewDelivery {
    NewDelivery {
        lane: Some(LanePlace { key: key.to_owned(), seq: event.seq, index }),
        ..pending(id, "acme", &event.id, "sub_1", T0)
    }
}

async fn complete(store: &dyn Store, event: &ClaimedEvent, deliveries: Vec<NewDelivery>) {
    let processed = ProcessedEvent { tenant_id: "acme".to_owned(), event_id: event.id.clone(), deliveries };
    store.complete_events(&[processed]).await.unwrap();
}

async fn record(store: &dyn Store, id: &str, at: Millis, status: DeliveryStatus) {
    store.record_attempts(&[outcome(id, "sub_1", at, status)]).await.unwrap();
}

async fn sorted_claim(store: &dyn Store, now: Millis) -> Vec<String> {
    let mut ids = claimed_ids(store, now).await;
    ids.sort();
    ids
}

pub async fn ordered_lanes_send_one_head_per_key_in_acceptance_order(backend: &impl Backend) {
    let store = acme(backend).await;
    let events = accept(&*store, &["evt_start", "evt_talk", "evt_other"]).await;
    let (start, talk, other) = (&events[0], &events[1], &events[2]);

    // TALK is through its plugin before START: it waits, as does every later event of the tenant.
    complete(&*store, talk, vec![in_lane("dlv_talk", talk, "cl_1", 0)]).await;
    complete(&*store, other, vec![in_lane("dlv_other", other, "cl_2", 0)]).await;
    assert!(claimed_ids(&*store, T0).await.is_empty(), "START may still join cl_1 ahead of TALK");

    // START's two requests: the lane's head is its first; another key goes at once.
    complete(
        &*store,
        start,
        vec![in_lane("dlv_start_0", start, "cl_1", 0), in_lane("dlv_start_1", start, "cl_1", 1)],
    )
    .await;
    assert_eq!(sorted_claim(&*store, T0).await, ["dlv_other", "dlv_start_0"]);
    assert!(claimed_ids(&*store, T0 + 1).await.is_empty(), "each key's head is in flight");

    record(&*store, "dlv_start_0", T0 + 10, DeliveryStatus::Succeeded).await;
    assert_eq!(claimed_ids(&*store, T0 + 10).await, ["dlv_start_1"]);
    // A failed head holds its key until its retry, and is sent again before its successor.
    record(&*store, "dlv_start_1", T0 + 20, DeliveryStatus::Failed).await;
    assert!(claimed_ids(&*store, T0 + 20).await.is_empty(), "TALK waits for START's retry");
    assert_eq!(claimed_ids(&*store, T0 + 1_020).await, ["dlv_start_1"]);
    // Dead, it releases the key.
    record(&*store, "dlv_start_1", T0 + 1_030, DeliveryStatus::Dead).await;
    assert_eq!(claimed_ids(&*store, T0 + 1_030).await, ["dlv_talk"]);
}

pub async fn a_plugin_error_that_will_run_again_holds_its_key(backend: &impl Backend) {
    let store = acme(backend).await;
    let events = accept(&*store, &["evt_1", "evt_2"]).await;
    let failed = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        error: Some("plugin timed out".to_owned()),
        next_attempt_at: Some(T0 + 500),
        ..in_lane("dlv_1", &events[0], "cl_1", 0)
    };
    complete(&*store, &events[0], vec![failed]).await;
    complete(&*store, &events[1], vec![in_lane("dlv_2", &events[1], "cl_1", 0)]).await;
    assert!(claimed_ids(&*store, T0 + 100).await.is_empty(), "the plugin error holds cl_1");

    // Its re-run takes its place in the lane, ahead of evt_2.
    let retries = store.claim_plugin_retries(10, LEASE, T0 + 500, &[]).await.unwrap();
    let [(id, _)]: [(String, ClaimedEvent); 1] = retries.try_into().unwrap();
    store.replace_plugin_retry(&id, &[in_lane("dlv_1b", &events[0], "cl_1", 0)]).await.unwrap();
    assert_eq!(claimed_ids(&*store, T0 + 600).await, ["dlv_1b"]);
    record(&*store, "dlv_1b", T0 + 610, DeliveryStatus::Succeeded).await;
    assert_eq!(claimed_ids(&*store, T0 + 610).await, ["dlv_2"]);
}

pub async fn blocked_keys_are_shown_and_a_dead_head_retried_leaves_its_lane(backend: &impl Backend) {
    let store = acme(backend).await;
    let events = accept(&*store, &["evt_1", "evt_2", "evt_3"]).await;
    for (n, event) in events.iter().enumerate() {
        complete(&*store, event, vec![in_lane(&format!("dlv_{}", n + 1), event, "cl_1", 0)]).await;
    }
    assert_eq!(store.lane_status("sub_1").await.unwrap(), LaneStatus::default());
    assert_eq!(claimed_ids(&*store, T0).await, ["dlv_1"]);
    record(&*store, "dlv_1", T0 + 10, DeliveryStatus::Failed).await;

    let lanes = store.lane_status("sub_1").await.unwrap();
    assert_eq!((lanes.blocked_keys, lanes.waiting_behind), (1, 2), "{lanes:?}");
    let head = lanes.oldest_blocked_head.expect("a failing head");
    assert_eq!((head.delivery_id.as_str(), head.key.as_str(), head.since), ("dlv_1", "cl_1", T0 + 10));
    let holding = DeliveryFilter { holding_key: true, ..DeliveryFilter::default() };
    let listed: Vec<String> =
        store.list_deliveries("acme", &holding).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(listed, ["dlv_1"]);

    // Dead, then retried by hand: sent on its own, beside the key's new head.
    record(&*store, "dlv_1", T0 + 20, DeliveryStatus::Dead).await;
    assert!(store.retry_delivery("acme", "dlv_1", T0 + 30).await.unwrap());
    let retried = store.get_delivery("acme", "dlv_1").await.unwrap().unwrap();
    assert_eq!(retried.ordering_key, None);
    assert_eq!(sorted_claim(&*store, T0 + 30).await, ["dlv_1", "dlv_2"]);
    assert_eq!(
        store.get_delivery("acme", "dlv_3").await.unwrap().unwrap().ordering_key.as_deref(),
        Some("cl_1")
    );
}

pub async fn claims_keep_each_tenants_share(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_tenant(&tenant("delta")).await.unwrap();
    store.create_subscription(&subscription("delta", "sub_delta")).await.unwrap();
    let gamma: Vec<NewDelivery> =
        (0..5).map(|n| pending(&format!("dlv_a{n}"), "acme", "evt_a", "sub_1", T0)).collect();
    seed(&*store, "evt_a", gamma).await;
    store.insert_events(&[event("delta", "evt_d", T0)]).await.unwrap();
    let delta = pending("dlv_d", "delta", "evt_d", "sub_delta", T0 + 5);
    let processed = ProcessedEvent {
        tenant_id: "delta".to_owned(),
        event_id: "evt_d".to_owned(),
        deliveries: vec![delta],
    };
    store.complete_events(&[processed]).await.unwrap();

    let shared = |now| DeliveryClaim { max_in_flight_per_tenant: 2, ..claim(100, LEASE, now) };
    let first: Vec<String> =
        store.claim_deliveries(shared(T0 + 5)).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(first.iter().filter(|id| id.starts_with("dlv_a")).count(), 2, "{first:?}");
    assert!(first.contains(&"dlv_d".to_owned()), "delta's comes though it is due last: {first:?}");
    assert!(store.claim_deliveries(shared(T0 + 6)).await.unwrap().is_empty(), "acme is at its share");
}
