//! Destination budgets, as every backend's delivery claim must keep them: one send slot per interval for
//! a budgeted destination, nothing of a paused one, a paced attempt that leaves its delivery's count and
//! health alone, and what waits with a merging plugin leased as one batch.

use super::*;
use crate::store::Budget;

const SHEETS: &str = "acme sheets.googleapis.com";

fn to(destination: &str, id: &str, due: Millis) -> NewDelivery {
    NewDelivery { destination: Some(destination.to_owned()), ..pending(id, "acme", "evt_1", "sub_1", due) }
}

fn sixty_a_minute(destination: &str) -> Option<Budget> {
    (destination == SHEETS).then_some(Budget { requests: 60, window_ms: 60_000 })
}

fn budgeted(now: Millis, merging: &'static [String]) -> DeliveryClaim<'static> {
    DeliveryClaim { default_budget: sixty_a_minute, merging_plugins: merging, ..claim(100, LEASE, now) }
}

async fn ids(store: &dyn Store, claim: DeliveryClaim<'_>) -> Vec<String> {
    store.claim_deliveries(claim).await.unwrap().into_iter().map(|d| d.id).collect()
}

pub async fn a_budgeted_destination_gets_one_slot_per_interval(backend: &impl Backend) {
    let store = acme(backend).await;
    let deliveries =
        (0..3).map(|n| to(SHEETS, &format!("dlv_{n}"), T0)).chain([to("acme crm.example", "dlv_crm", T0)]);
    seed(&*store, "evt_1", deliveries.collect()).await;
    let mut first = ids(&*store, budgeted(T0, &[])).await;
    first.sort();
    assert_eq!(first, ["dlv_0", "dlv_crm"], "one to the budgeted destination, the other unpaced");
    assert!(ids(&*store, budgeted(T0 + 999, &[])).await.is_empty(), "the next slot is a second later");
    assert_eq!(ids(&*store, budgeted(T0 + 1_000, &[])).await, ["dlv_1"]);

    // A budget set for a destination replaces the default: 1 per 10 s.
    store
        .set_destination_budget(&[SHEETS.to_owned()], Some(Budget { requests: 1, window_ms: 10_000 }))
        .await
        .unwrap();
    assert_eq!(ids(&*store, budgeted(T0 + 2_000, &[])).await, ["dlv_2"]);
    let states = store.destination_states("acme").await.unwrap();
    let sheets = states.iter().find(|s| s.destination == SHEETS).expect("its state is shown");
    assert_eq!(sheets.budget, Some(Budget { requests: 1, window_ms: 10_000 }));
    assert_eq!(sheets.next_slot_at, Some(T0 + 12_000));
    assert!(store.destination_states("other").await.unwrap().is_empty());
}

pub async fn a_paused_destination_waits_and_its_paced_attempts_do_not_count(backend: &impl Backend) {
    let store = acme(backend).await;
    seed(&*store, "evt_1", vec![to("acme crm.example", "dlv_1", T0), to("acme crm.example", "dlv_2", T0)])
        .await;
    assert_eq!(ids(&*store, claim(1, LEASE, T0)).await, ["dlv_1"]);
    store
        .pause_destination("acme crm.example", T0 + 30_000, "429 with Retry-After: 30 s", None)
        .await
        .unwrap();
    // A shorter pause never shortens it.
    store.pause_destination("acme crm.example", T0 + 5_000, "429 again", Some(5_000)).await.unwrap();
    let paced = AttemptRecord {
        status_code: Some(429),
        next_attempt_at: Some(T0 + 30_000),
        new_status: DeliveryStatus::Pending,
        paced: true,
        ..outcome("dlv_1", "sub_1", T0 + 10, DeliveryStatus::Pending)
    };
    store.record_attempts(&[paced]).await.unwrap();
    assert!(claimed_ids(&*store, T0 + 29_999).await.is_empty(), "paused, both wait");
    assert_eq!(store.destination_backoff("acme crm.example").await.unwrap(), Some((5_000, T0 + 30_000)));

    let delivery = store.get_delivery("acme", "dlv_1").await.unwrap().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Pending, "not a failed attempt");
    assert_eq!(delivery.attempts.len(), 1, "but recorded, to be seen");
    assert_eq!(store.failing_since("sub_1").await.unwrap(), None, "the subscription's health is untouched");
    let mut after = claimed_ids(&*store, T0 + 30_000).await;
    after.sort();
    assert_eq!(after, ["dlv_1", "dlv_2"]);
    // Its attempt count is still 0: the retry schedule starts from its first real attempt.
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 30_010, DeliveryStatus::Failed)]).await.unwrap();
    let claimed = store.claim_deliveries(claim(10, LEASE, T0 + 31_010)).await.unwrap();
    assert_eq!(claimed.iter().find(|d| d.id == "dlv_1").map(|d| d.attempts), Some(1));
}

pub async fn what_waits_for_a_merging_plugin_is_leased_as_one_batch(backend: &impl Backend) {
    static MERGING: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["slack@1".to_owned()]);
    let store = acme(backend).await;
    seed(&*store, "evt_1", (0..4).map(|n| to(SHEETS, &format!("dlv_{n}"), T0 + n)).collect()).await;
    let claimed = store.claim_deliveries(budgeted(T0 + 10, &MERGING)).await.unwrap();
    let batch: Vec<(&str, Option<&str>)> =
        claimed.iter().map(|d| (d.id.as_str(), d.batch_leader.as_deref())).collect();
    assert_eq!(batch.len(), 4, "{batch:?}");
    assert!(batch.iter().all(|(_, leader)| *leader == Some("dlv_0")), "{batch:?}");

    // Refused as a whole, they are due again with a smaller batch limit, and released unsent when asked.
    let refused: Vec<AttemptRecord> = claimed
        .iter()
        .map(|d| AttemptRecord {
            status_code: Some(400),
            next_attempt_at: Some(T0 + 2_000),
            new_status: DeliveryStatus::Pending,
            paced: true,
            batch_id: Some("bat_1".to_owned()),
            batch_limit: Some(2),
            ..outcome(&d.id, "sub_1", T0 + 20, DeliveryStatus::Pending)
        })
        .collect();
    store.record_attempts(&refused).await.unwrap();
    assert_eq!(
        store.get_delivery("acme", "dlv_3").await.unwrap().unwrap().batch_id.as_deref(),
        Some("bat_1")
    );
    let halves = store.claim_deliveries(budgeted(T0 + 2_000, &MERGING)).await.unwrap();
    assert_eq!(halves.len(), 2, "batches of at most 2 now");
    let ids: Vec<String> = halves.iter().map(|d| d.id.clone()).collect();
    store.release_deliveries(&ids, T0 + 5_000).await.unwrap();
    // The next slot (a second later) takes the other two; the released ones wait until they are due.
    let next = store.claim_deliveries(budgeted(T0 + 3_000, &MERGING)).await.unwrap();
    let mut next: Vec<String> = next.into_iter().map(|d| d.id).collect();
    next.sort();
    let mut others: Vec<String> = ["dlv_0", "dlv_1", "dlv_2", "dlv_3"]
        .iter()
        .map(|id| id.to_string())
        .filter(|id| !ids.contains(id))
        .collect();
    others.sort();
    assert_eq!(next, others);
    assert_eq!(store.claim_deliveries(budgeted(T0 + 5_000, &MERGING)).await.unwrap().len(), 2);
}
