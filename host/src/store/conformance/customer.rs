//! What the customer's features need of every store: re-runs, subscription health and the failure
//! changes told once, idempotency keys, test sends, tenant platforms and subscription filters kept.

use super::*;
use crate::store::{Idempotent, Rerun};

pub async fn reruns_supersede_and_hand_the_event_to_the_pipeline(backend: &impl Backend) {
    let store = acme(backend).await;
    let permanent = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        next_attempt_at: None,
        error: Some("a request goes to a host not allowed".to_owned()),
        ..pending("dlv_error", "acme", "evt_1", "sub_1", T0)
    };
    seed(&*store, "evt_1", vec![pending("dlv_sent", "acme", "evt_1", "sub_1", T0), permanent]).await;
    store.record_attempts(&[outcome("dlv_sent", "sub_1", T0 + 10, DeliveryStatus::Succeeded)]).await.unwrap();

    assert_eq!(store.rerun_delivery("globex", "dlv_error", T0 + 20).await.unwrap(), Rerun::NotFound);
    assert_eq!(
        store.rerun_delivery("acme", "dlv_error", T0 + 20).await.unwrap(),
        Rerun::Started { event_id: "evt_1".to_owned() }
    );
    assert_eq!(status_of(&*store, "dlv_error").await, DeliveryStatus::Superseded);
    let filter =
        DeliveryFilter { event_id: Some("evt_1".to_owned()), limit: 100, ..DeliveryFilter::default() };
    let listed = store.list_deliveries("acme", &filter).await.unwrap();
    let waiting = listed.iter().find(|d| d.rerun_of.as_deref() == Some("dlv_error")).expect("a placeholder");
    let placeholder = waiting.id.clone();
    assert_eq!(waiting.event_type.as_deref(), Some("call.ended"));
    assert_eq!(
        (waiting.status, waiting.rerun_of.as_deref(), waiting.next_attempt_at, waiting.error_kind.as_deref()),
        (DeliveryStatus::PluginError, Some("dlv_error"), Some(T0 + 20), Some("rerun"))
    );
    assert_eq!(store.rerun_delivery("acme", "dlv_error", T0 + 21).await.unwrap(), Rerun::AlreadyRerun);
    // The pipeline's retry claim takes it up, with its event.
    let claimed = store.claim_plugin_retries(10, LEASE, T0 + 20, &[]).await.unwrap();
    assert_eq!(
        claimed.iter().map(|(id, event)| (id.as_str(), event.id.as_str())).collect::<Vec<_>>(),
        [(placeholder.as_str(), "evt_1")]
    );

    // A delivered one keeps its history; a re-run of it is a new delivery.
    let Rerun::Started { .. } = store.rerun_delivery("acme", "dlv_sent", T0 + 30).await.unwrap() else {
        panic!()
    };
    assert_eq!(status_of(&*store, "dlv_sent").await, DeliveryStatus::Succeeded);

    // By range: only what needs it (a plugin error that will not run again; failed and dead when asked).
    seed(
        &*store,
        "evt_2",
        vec![
            NewDelivery {
                status: DeliveryStatus::PluginError,
                request: None,
                next_attempt_at: None,
                ..pending("dlv_e2", "acme", "evt_2", "sub_1", T0 + 40)
            },
            pending("dlv_p2", "acme", "evt_2", "sub_1", T0 + 40),
        ],
    )
    .await;
    assert_eq!(store.rerun_deliveries("acme", "sub_1", T0 + 40, T0 + 41, false, T0 + 50).await.unwrap(), 1);
    assert_eq!(status_of(&*store, "dlv_e2").await, DeliveryStatus::Superseded);
    assert_eq!(status_of(&*store, "dlv_p2").await, DeliveryStatus::Pending);
    assert_eq!(store.rerun_deliveries("globex", "sub_1", T0, T0 + 100, true, T0 + 50).await.unwrap(), 0);
}

pub async fn health_counts_failures_and_each_change_is_told_once(backend: &impl Backend) {
    let store = acme(backend).await;
    let notify =
        crate::notifications::Notify { email: Some("ana@example.com".to_owned()), webhook_url: None };
    store
        .update_subscription(&Subscription { notify: Some(notify), ..subscription("acme", "sub_1") })
        .await
        .unwrap();
    assert_eq!(store.subscription_health("sub_1", T0).await.unwrap(), Default::default());
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_1", "acme", "evt_1", "sub_1", T0),
            pending("dlv_2", "acme", "evt_1", "sub_1", T0 + 1),
        ],
    )
    .await;
    let failed = AttemptRecord {
        delivery_error: Some("the endpoint answered 500".to_owned()),
        ..outcome("dlv_2", "sub_1", T0 + 10, DeliveryStatus::Failed)
    };
    store
        .record_attempts(&[outcome("dlv_1", "sub_1", T0 + 5, DeliveryStatus::Succeeded), failed])
        .await
        .unwrap();
    let health = store.subscription_health("sub_1", T0).await.unwrap();
    assert_eq!((health.deliveries, health.failed, health.latest_failed), (2, 1, true));
    let last = health.last_failure.unwrap();
    assert_eq!(
        (last.delivery_id.as_str(), last.error.as_deref()),
        ("dlv_2", Some("the endpoint answered 500"))
    );
    assert_eq!(
        store.subscription_health("sub_1", T0 + 2).await.unwrap().deliveries,
        0,
        "older ones are not recent"
    );

    assert!(store.claim_failure_changes(T0 + 9, 10).await.unwrap().is_empty(), "not failing long enough");
    let changes = store.claim_failure_changes(T0 + 100, 10).await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].subscription_id.as_str(), changes[0].failing_since), ("sub_1", Some(T0 + 10)));
    assert!(changes[0].notify_json.contains("ana@example.com"));
    assert!(store.claim_failure_changes(T0 + 100, 10).await.unwrap().is_empty(), "told once");
    store.record_attempts(&[outcome("dlv_2", "sub_1", T0 + 20, DeliveryStatus::Succeeded)]).await.unwrap();
    let changes = store.claim_failure_changes(T0 + 100, 10).await.unwrap();
    assert_eq!(changes.iter().map(|c| c.failing_since).collect::<Vec<_>>(), [None], "recovered");
    assert!(store.claim_failure_changes(T0 + 100, 10).await.unwrap().is_empty());
    assert_eq!(store.subscription_health("sub_1", T0).await.unwrap().failed, 0);
}

pub async fn idempotency_keys_answer_once_per_request(backend: &impl Backend) {
    let store = acme(backend).await;
    let begin = |key: &'static str, fingerprint: &'static str, now: Millis| {
        let store = store.clone();
        async move { store.begin_idempotent("acme", key, fingerprint, now, now - 1_000).await.unwrap() }
    };
    assert_eq!(begin("k1", "f1", T0).await, Idempotent::New);
    assert_eq!(begin("k1", "f1", T0 + 1).await, Idempotent::InProgress);
    store.finish_idempotent("acme", "k1", Some((201, "{\"id\":\"sub_9\"}".to_owned()))).await.unwrap();
    assert_eq!(
        begin("k1", "f1", T0 + 2).await,
        Idempotent::Answered { status: 201, body: "{\"id\":\"sub_9\"}".to_owned() }
    );
    assert_eq!(begin("k1", "f2", T0 + 3).await, Idempotent::Mismatch);
    assert_eq!(
        store.begin_idempotent("globex", "k1", "f2", T0 + 3, T0).await.unwrap(),
        Idempotent::New,
        "per tenant"
    );
    assert_eq!(begin("k1", "f2", T0 + 5_000).await, Idempotent::New, "forgotten once expired");
    // A failed request's key is forgotten at once.
    assert_eq!(begin("k2", "f1", T0).await, Idempotent::New);
    store.finish_idempotent("acme", "k2", None).await.unwrap();
    assert_eq!(begin("k2", "f3", T0 + 1).await, Idempotent::New);
}

pub async fn test_sends_platforms_and_filters_are_kept(backend: &impl Backend) {
    let store = acme(backend).await;
    assert!(store.set_tenant_platforms("acme", &["phone".to_owned()]).await.unwrap());
    assert!(!store.set_tenant_platforms("nobody", &["phone".to_owned()]).await.unwrap());
    assert_eq!(store.get_tenant("acme").await.unwrap().unwrap().platforms, ["phone"]);
    store.set_tenant_platforms("acme", &[]).await.unwrap();
    assert!(store.get_tenant("acme").await.unwrap().unwrap().platforms.is_empty());

    let filter: crate::conditions::Filter = serde_json::from_value(serde_json::json!(
        {"any": [{"field": "call.status", "op": "in", "value": ["missed", "busy"]}]}
    ))
    .unwrap();
    let named = Subscription {
        name: Some("Perdidas".to_owned()),
        filter: Some(filter),
        ..subscription("acme", "sub_2")
    };
    store.create_subscription(&named).await.unwrap();
    assert_eq!(store.get_subscription("acme", "sub_2").await.unwrap(), Some(named));

    let test = NewEvent { origin: Some("test:sub_1".to_owned()), ..event("acme", "test_1", T0) };
    store.insert_events(&[test]).await.unwrap();
    let claimed = store.claim_events(10, LEASE, T0, &[]).await.unwrap();
    assert_eq!(claimed[0].only_subscription(), Some("sub_1"));
    assert!(claimed[0].is_test());
    let delivery = NewDelivery { test: true, ..pending("dlv_t", "acme", "test_1", "sub_1", T0) };
    store
        .complete_events(&[ProcessedEvent {
            tenant_id: "acme".to_owned(),
            event_id: "test_1".to_owned(),
            deliveries: vec![delivery],
        }])
        .await
        .unwrap();
    assert!(store.get_delivery("acme", "dlv_t").await.unwrap().unwrap().test);
    assert_eq!(
        store.get_event("acme", "test_1").await.unwrap().unwrap().origin.as_deref(),
        Some("test:sub_1")
    );
}
