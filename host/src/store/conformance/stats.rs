//! The charts' figures, as every backend must count them: deliveries made in the window by bucket and
//! outcome (a failure with a next attempt is `retrying`), latency classes from the event's receipt, plugin
//! errors by version, requests sent per destination, each within its scope.

use super::*;
use crate::store::{LatencyCount, OutcomeCount, PluginErrorCount, SentCount, StatsScope, StatsWindow};

const MINUTE: i64 = 60_000;

pub async fn delivery_stats_count_by_bucket_outcome_and_scope(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_subscription(&subscription("acme", "sub_2")).await.unwrap();
    let to_hooks =
        |d: NewDelivery| NewDelivery { destination: Some("acme hooks.example.com".to_owned()), ..d };
    let plugin_error = NewDelivery {
        plugin: "slack@2".to_owned(),
        status: DeliveryStatus::PluginError,
        request: None,
        next_attempt_at: None,
        error: Some("no phone".to_owned()),
        error_kind: Some("trap".to_owned()),
        ..pending("dlv_plugin", "acme", "evt_1", "sub_1", T0 + 2 * MINUTE + 1)
    };
    seed(
        &*store,
        "evt_1",
        vec![
            to_hooks(pending("dlv_ok", "acme", "evt_1", "sub_1", T0 + 1_000)),
            to_hooks(pending("dlv_retry", "acme", "evt_1", "sub_1", T0 + MINUTE + 1)),
            to_hooks(pending("dlv_dead", "acme", "evt_1", "sub_1", T0 + MINUTE + 2)),
            pending("dlv_before", "acme", "evt_1", "sub_1", T0 - 1),
            pending("dlv_other_sub", "acme", "evt_1", "sub_2", T0 + 5),
            plugin_error,
        ],
    )
    .await;
    claimed_ids(&*store, T0 + 2 * MINUTE).await;
    store
        .record_attempts(&[
            outcome("dlv_ok", "sub_1", T0 + 3_000, DeliveryStatus::Succeeded),
            outcome("dlv_retry", "sub_1", T0 + MINUTE + 10, DeliveryStatus::Failed),
            outcome("dlv_dead", "sub_1", T0 + MINUTE + 10, DeliveryStatus::Dead),
        ])
        .await
        .unwrap();

    let window = StatsWindow { since: T0, bucket_ms: MINUTE, buckets: 10 };
    let sub_1 = StatsScope::Subscription { tenant_id: "acme", subscription_id: "sub_1" };
    let mut stats = store.delivery_stats(sub_1, window).await.unwrap();
    stats.outcomes.sort_by(|a, b| (a.bucket, &a.outcome).cmp(&(b.bucket, &b.outcome)));
    let count = |bucket, outcome: &str, count| OutcomeCount { bucket, outcome: outcome.to_owned(), count };
    assert_eq!(
        stats.outcomes,
        [count(0, "succeeded", 1), count(1, "dead", 1), count(1, "retrying", 1), count(2, "plugin_error", 1)],
        "the delivery made before the window and sub_2's are not counted"
    );
    // 3 s from the event's receipt (T0) to its success: the class up to 5 s.
    assert_eq!(stats.latencies, [LatencyCount { bucket: 0, class: 5, count: 1 }]);
    assert_eq!(
        stats.plugin_errors,
        [PluginErrorCount { plugin: "slack@2".to_owned(), kind: "trap".to_owned(), count: 1 }]
    );
    stats.sent.sort_by_key(|s| s.bucket);
    let sent = |bucket, count| SentCount { destination: "acme hooks.example.com".to_owned(), bucket, count };
    assert_eq!(stats.sent, [sent(0, 1), sent(1, 2)]);

    let tenant = store.delivery_stats(StatsScope::Tenant("acme"), window).await.unwrap();
    let total = |stats: &crate::store::DeliveryStats| stats.outcomes.iter().map(|o| o.count).sum::<u64>();
    assert_eq!(total(&tenant), 5, "sub_2's pending delivery counts for the tenant");
    assert_eq!(total(&store.delivery_stats(StatsScope::Service, window).await.unwrap()), 5);
    assert_eq!(total(&store.delivery_stats(StatsScope::Tenant("globex"), window).await.unwrap()), 0);
}
