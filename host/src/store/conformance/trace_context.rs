//! A subscription's `trace_context` choice, kept and handed to the delivery worker with each claimed
//! delivery (with when its plugin run made it, which names that run's span).

use super::*;

pub async fn trace_context_is_kept_and_claimed_deliveries_carry_it(backend: &impl Backend) {
    let store = acme(backend).await;
    assert!(!store.get_subscription("acme", "sub_1").await.unwrap().unwrap().trace_context, "off by default");
    let traced = Subscription { trace_context: true, ..subscription("acme", "sub_traced") };
    store.create_subscription(&traced).await.unwrap();
    assert!(store.get_subscription("acme", "sub_traced").await.unwrap().unwrap().trace_context);
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_1", "acme", "evt_1", "sub_1", T0),
            pending("dlv_2", "acme", "evt_1", "sub_traced", T0 + 1),
        ],
    )
    .await;

    let mut claimed = store.claim_deliveries(claim(10, LEASE, T0 + 10)).await.unwrap();
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    let found: Vec<_> = claimed.iter().map(|d| (d.id.as_str(), d.trace_context, d.created_at)).collect();
    assert_eq!(found, [("dlv_1", false, T0), ("dlv_2", true, T0 + 1)]);

    let untraced = Subscription { trace_context: false, ..traced };
    assert!(store.update_subscription(&untraced).await.unwrap());
    assert!(!store.get_subscription("acme", "sub_traced").await.unwrap().unwrap().trace_context);
}
