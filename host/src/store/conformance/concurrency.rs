//! Conformance behaviours under contention: claimers racing for the same events and deliveries never
//! take one twice.

use super::*;

/// How many events and deliveries the concurrency tests race over.
const RACE: usize = 1_000;

pub async fn concurrent_event_claims_are_disjoint(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    let events: Vec<_> = (0..RACE).map(|n| event("acme", &format!("evt_{n:04}"), T0 + n as i64)).collect();
    for batch in events.chunks(250) {
        store.insert_events(batch).await.unwrap();
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store.claim_events(7, LEASE, T0 + RACE as i64, &[]).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|e| e.id));
                }
            })
        })
        .collect();
    assert_disjoint(workers).await;
}

pub async fn concurrent_delivery_claims_are_disjoint(backend: &impl Backend) {
    let store = acme(backend).await;
    let deliveries =
        (0..RACE).map(|n| pending(&format!("dlv_{n:04}"), "acme", "evt_1", "sub_1", T0)).collect();
    seed(&*store, "evt_1", deliveries).await;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store.claim_deliveries(claim(7, LEASE, T0)).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|d| d.id));
                }
            })
        })
        .collect();
    assert_disjoint(workers).await;
}

/// Every item was claimed by exactly one worker.
async fn assert_disjoint(workers: Vec<tokio::task::JoinHandle<Vec<String>>>) {
    let mut seen = HashSet::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), RACE);
}
