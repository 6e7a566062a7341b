//! Conformance behaviours of deliveries: the claim and its endpoint limits, recording attempts, plugin
//! retries, retrying and replaying by hand, and listing.

use super::*;

pub async fn claim_deliveries_only_due_enabled_unleased(backend: &impl Backend) {
    let store = acme(backend).await;
    let paused = Subscription { enabled: false, ..subscription("acme", "sub_paused") };
    store.create_subscription(&paused).await.unwrap();
    let plugin_error = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        error: Some("plugin trapped".to_owned()),
        ..pending("dlv_plugin", "acme", "evt_1", "sub_1", T0)
    };
    let skipped = NewDelivery {
        status: DeliveryStatus::Skipped,
        request: None,
        next_attempt_at: None,
        ..pending("dlv_skip", "acme", "evt_1", "sub_1", T0)
    };
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_late", "acme", "evt_1", "sub_1", T0 + 500),
            pending("dlv_due_2", "acme", "evt_1", "sub_1", T0 + 20),
            pending("dlv_due_1", "acme", "evt_1", "sub_1", T0 + 10),
            pending("dlv_paused", "acme", "evt_1", "sub_paused", T0),
            plugin_error,
            skipped,
        ],
    )
    .await;

    assert_eq!(claimed_ids(&*store, T0 + 100).await, ["dlv_due_1", "dlv_due_2"], "due, oldest first");
    assert!(claimed_ids(&*store, T0 + 101).await.is_empty(), "leased");
    assert_eq!(claimed_ids(&*store, T0 + 500).await, ["dlv_late"]);
    let one = store.claim_deliveries(claim(1, LEASE, T0 + 100 + LEASE)).await.unwrap();
    assert_eq!(one.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["dlv_due_1"], "lease ran out; limit");

    // Enabling the subscription again releases its waiting deliveries.
    store.update_subscription(&subscription("acme", "sub_paused")).await.unwrap();
    assert_eq!(claimed_ids(&*store, T0 + 100 + LEASE).await, ["dlv_paused", "dlv_due_2"]);
}

pub async fn claims_keep_each_endpoints_concurrency_bound(backend: &impl Backend) {
    let store = acme(backend).await;
    let bounded = Subscription { max_in_flight: Some(2), ..subscription("acme", "sub_bounded") };
    store.create_subscription(&bounded).await.unwrap();
    // The bounded endpoint's deliveries are the oldest: they must not hold up the others.
    let mut deliveries: Vec<_> =
        (0..5).map(|n| pending(&format!("dlv_b{n}"), "acme", "evt_1", "sub_bounded", T0 + n)).collect();
    deliveries.extend((0..5).map(|n| pending(&format!("dlv_d{n}"), "acme", "evt_1", "sub_1", T0 + 10 + n)));
    seed(&*store, "evt_1", deliveries).await;

    let claim_sent = |max: u32, now: Millis, sent: &'static [&'static str]| {
        let store = store.clone();
        async move {
            let sent: Vec<String> = sent.iter().map(|id| id.to_string()).collect();
            let claim = DeliveryClaim { default_max_in_flight: 3, sent: &sent, ..claim(max, LEASE, now) };
            let claimed = store.claim_deliveries(claim).await.unwrap();
            claimed.into_iter().map(|claimed| claimed.id).collect::<Vec<_>>()
        }
    };
    let claim = |max: u32, now: Millis| claim_sent(max, now, &[]);
    // Its own bound (2) for one; the default (3) for the other.
    assert_eq!(claim(100, T0 + 100).await, ["dlv_b0", "dlv_b1", "dlv_d0", "dlv_d1", "dlv_d2"]);
    assert!(claim(100, T0 + 101).await.is_empty(), "both endpoints are full");
    // A delivery the claimer has sent but not recorded yet is no longer in flight.
    assert_eq!(claim_sent(100, T0 + 102, &["dlv_b1"]).await, ["dlv_b2"]);
    // Once recorded, a sent delivery is neither in flight nor subtracted again.
    let record = outcome("dlv_b2", "sub_bounded", T0 + 103, DeliveryStatus::Succeeded);
    store.record_attempts(&[record]).await.unwrap();
    assert_eq!(claim_sent(100, T0 + 104, &["dlv_b1", "dlv_b2"]).await, ["dlv_b3"]);
    assert!(claim_sent(100, T0 + 105, &["dlv_b1", "dlv_b2"]).await.is_empty(), "b0 and b3 are in flight");
    // A recorded attempt frees its slot, whatever its outcome.
    let records = [
        outcome("dlv_b0", "sub_bounded", T0 + 200, DeliveryStatus::Succeeded),
        outcome("dlv_d0", "sub_1", T0 + 200, DeliveryStatus::Failed),
    ];
    store.record_attempts(&records).await.unwrap();
    assert_eq!(claim(100, T0 + 300).await, ["dlv_d3"], "b1 and b3 are in flight");
    // Leases that run out (an instance that died) free their slots too: the leased deliveries come back.
    let after_lease = T0 + 300 + LEASE;
    assert_eq!(claim(100, after_lease).await, ["dlv_b1", "dlv_b3", "dlv_d1", "dlv_d2", "dlv_d3"]);
    // The bound counts across claims: one at a time still stops at it.
    assert_eq!(claim(1, after_lease + 1).await, Vec::<String>::new());
}

pub async fn claims_keep_each_endpoints_rate_limit(backend: &impl Backend) {
    let store = acme(backend).await;
    let limited = Subscription { rate_limit: Some(2), ..subscription("acme", "sub_limited") };
    store.create_subscription(&limited).await.unwrap();
    let deliveries: Vec<_> =
        (0..6).map(|n| pending(&format!("dlv_{n}"), "acme", "evt_1", "sub_limited", T0 + n)).collect();
    seed(&*store, "evt_1", deliveries).await;
    let due = |id: &'static str| {
        let store = store.clone();
        async move { store.get_delivery("acme", id).await.unwrap().unwrap().next_attempt_at }
    };

    // An idle endpoint may send one second's worth at once; the rest are spread 500 ms apart.
    assert_eq!(claimed_ids(&*store, T0 + 10).await, ["dlv_0", "dlv_1"]);
    for (id, at) in [("dlv_2", 510), ("dlv_3", 1_010), ("dlv_4", 1_510), ("dlv_5", 2_010)] {
        assert_eq!(due(id).await, Some(T0 + at), "{id}");
    }
    assert!(claimed_ids(&*store, T0 + 20).await.is_empty(), "deferred to their slots");
    // A deferred delivery goes when its slot comes, without taking another.
    assert_eq!(claimed_ids(&*store, T0 + 600).await, ["dlv_2"]);
    // A new delivery queues behind the slots already given.
    seed(&*store, "evt_2", vec![pending("dlv_new", "acme", "evt_2", "sub_limited", T0 + 700)]).await;
    assert!(claimed_ids(&*store, T0 + 700).await.is_empty());
    assert_eq!(due("dlv_new").await, Some(T0 + 2_510));
    assert_eq!(claimed_ids(&*store, T0 + 2_600).await, ["dlv_3", "dlv_4", "dlv_5", "dlv_new"]);
    // Other endpoints are not held back.
    seed(&*store, "evt_3", vec![pending("dlv_free", "acme", "evt_3", "sub_1", T0 + 2_700)]).await;
    assert_eq!(claimed_ids(&*store, T0 + 2_700).await, ["dlv_free"]);
}

pub async fn claim_deliveries_skips_deleted_subscriptions(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_subscription(&subscription("acme", "sub_2")).await.unwrap();
    seed(
        &*store,
        "evt_1",
        vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0), pending("dlv_2", "acme", "evt_1", "sub_2", T0)],
    )
    .await;
    assert!(store.delete_subscription("acme", "sub_1").await.unwrap());
    assert_eq!(claimed_ids(&*store, T0 + 1).await, ["dlv_2"]);
    // The history stays; the delivery will never be sent, so it is no longer waiting.
    assert_eq!(status_of(&*store, "dlv_1").await, DeliveryStatus::Dead);
    assert_eq!(store.queue_stats(T0 + 1).await.unwrap().deliveries_pending, 1, "dlv_2, leased");
    assert!(!store.retry_delivery("acme", "dlv_1", T0 + 2).await.unwrap(), "nowhere to send it");
}

pub async fn claimed_delivery_has_request_secrets_and_headers(backend: &impl Backend) {
    let store = acme(backend).await;
    let rotated = Subscription {
        secret: "whsec_new".to_owned(),
        previous_secret: Some("whsec_old".to_owned()),
        previous_secret_expires_at: Some(T0 + 1_000),
        ..subscription("acme", "sub_1")
    };
    store.update_subscription(&rotated).await.unwrap();
    seed(&*store, "evt_1", vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0)]).await;

    let claimed = store.claim_deliveries(claim(10, 100, T0 + 999)).await.unwrap();
    let [claimed] = claimed.as_slice() else { panic!("one delivery: {claimed:?}") };
    assert_eq!(
        (claimed.tenant_id.as_str(), claimed.event_id.as_str(), claimed.subscription_id.as_str()),
        ("acme", "evt_1", "sub_1")
    );
    assert_eq!((&claimed.request, claimed.attempts), (&request("dlv_1"), 0));
    assert_eq!(claimed.secrets, ["whsec_new", "whsec_old"], "within the grace period");
    assert_eq!(claimed.subscription_headers, [("authorization".to_owned(), "Bearer dest".to_owned())]);

    let claimed = store.claim_deliveries(claim(10, 100, T0 + 1_100)).await.unwrap();
    assert_eq!(claimed[0].secrets, ["whsec_new"], "grace period over");
}

pub async fn record_attempts_moves_status_and_health(backend: &impl Backend) {
    use DeliveryStatus::*;
    let store = acme(backend).await;
    seed(
        &*store,
        "evt_1",
        vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0), pending("dlv_2", "acme", "evt_1", "sub_1", T0)],
    )
    .await;
    assert_eq!(store.failing_since("sub_1").await.unwrap(), None);
    assert_eq!(claimed_ids(&*store, T0).await.len(), 2);

    // Failed: retried at `next_attempt_at`, lease released, failing since this attempt.
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 100, Failed)]).await.unwrap();
    assert_eq!(store.failing_since("sub_1").await.unwrap(), Some(T0 + 100));
    assert!(claimed_ids(&*store, T0 + 1_099).await.is_empty(), "not due yet");
    let retried = store.claim_deliveries(claim(10, LEASE, T0 + 1_100)).await.unwrap();
    assert_eq!((retried[0].id.as_str(), retried[0].attempts), ("dlv_1", 1), "due; no lease left");

    // Failing again keeps the first failure's time.
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 1_200, Failed)]).await.unwrap();
    assert_eq!(store.failing_since("sub_1").await.unwrap(), Some(T0 + 100));
    store.record_attempts(&[outcome("dlv_2", "sub_1", T0 + 1_300, Dead)]).await.unwrap();
    assert_eq!(store.failing_since("sub_1").await.unwrap(), Some(T0 + 100));

    // A success: delivered, and the subscription is healthy again.
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 2_200, Succeeded)]).await.unwrap();
    assert_eq!(store.failing_since("sub_1").await.unwrap(), None);
    let delivered = store.get_delivery("acme", "dlv_1").await.unwrap().unwrap();
    assert_eq!(
        (delivered.status, delivered.next_attempt_at, delivered.updated_at),
        (Succeeded, None, T0 + 2_200)
    );
    let attempts: Vec<_> = delivered.attempts.iter().map(|a| (a.at, a.status_code)).collect();
    assert_eq!(attempts, [(T0 + 100, Some(503)), (T0 + 1_200, Some(503)), (T0 + 2_200, Some(200))]);
    assert_eq!(delivered.attempts[2].response_excerpt, format!("answer at {}", T0 + 2_200));
    assert_eq!(status_of(&*store, "dlv_2").await, Dead);
    assert!(claimed_ids(&*store, T0 + 10 * LEASE).await.is_empty(), "nothing left to send");
    assert_eq!(store.failing_since("sub_nope").await.unwrap(), None);
}

pub async fn record_attempts_can_disable_subscription(backend: &impl Backend) {
    let store = acme(backend).await;
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_1", "acme", "evt_1", "sub_1", T0),
            pending("dlv_2", "acme", "evt_1", "sub_1", T0 + 10_000),
        ],
    )
    .await;
    assert_eq!(claimed_ids(&*store, T0).await, ["dlv_1"]);
    let gone = AttemptRecord {
        status_code: Some(410),
        error: Some("endpoint answered 410 Gone".to_owned()),
        disable_subscription: Some("endpoint answered 410 Gone".to_owned()),
        ..outcome("dlv_1", "sub_1", T0 + 100, DeliveryStatus::Dead)
    };
    store.record_attempts(&[gone]).await.unwrap();
    let disabled = store.get_subscription("acme", "sub_1").await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_reason.as_deref(), Some("endpoint answered 410 Gone"));
    assert_eq!(disabled.failing_since, Some(T0 + 100));
    let attempt = &store.get_delivery("acme", "dlv_1").await.unwrap().unwrap().attempts[0];
    assert_eq!(
        (attempt.status_code, attempt.error.as_deref()),
        (Some(410), Some("endpoint answered 410 Gone"))
    );
    // The rest of its queue is given up, not left waiting; it can be replayed once re-enabled.
    assert!(claimed_ids(&*store, T0 + 20_000).await.is_empty());
    assert_eq!(status_of(&*store, "dlv_2").await, DeliveryStatus::Dead);
    assert_eq!(store.queue_stats(T0 + 20_000).await.unwrap().deliveries_pending, 0);
}

pub async fn plugin_retries_are_claimed_and_replaced(backend: &impl Backend) {
    let store = acme(backend).await;
    let transient = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        error: Some("plugin timed out".to_owned()),
        ..pending("dlv_1", "acme", "evt_1", "sub_1", T0 + 100)
    };
    let permanent = NewDelivery {
        next_attempt_at: None,
        error: Some("plugin returned an invalid request".to_owned()),
        ..transient.clone()
    };
    let permanent = NewDelivery { id: "dlv_2".to_owned(), ..permanent };
    seed(&*store, "evt_1", vec![transient, permanent]).await;

    assert!(store.claim_plugin_retries(10, LEASE, T0 + 99, &[]).await.unwrap().is_empty(), "not due yet");
    let claimed = store.claim_plugin_retries(10, LEASE, T0 + 100, &[]).await.unwrap();
    let [(delivery_id, claimed)] = claimed.as_slice() else { panic!("one retry: {claimed:?}") };
    assert_eq!(
        (delivery_id.as_str(), claimed.tenant_id.as_str(), claimed.id.as_str()),
        ("dlv_1", "acme", "evt_1")
    );
    assert_eq!(claimed.data_json, r#"{"call":"evt_1"}"#);
    assert!(store.claim_plugin_retries(10, LEASE, T0 + 101, &[]).await.unwrap().is_empty(), "leased");
    assert!(claimed_ids(&*store, T0 + 101).await.is_empty(), "not a delivery to send");

    store
        .replace_plugin_retry("dlv_1", &[pending("dlv_3", "acme", "evt_1", "sub_1", T0 + 200)])
        .await
        .unwrap();
    assert!(store.get_delivery("acme", "dlv_1").await.unwrap().is_none());
    assert_eq!(status_of(&*store, "dlv_3").await, DeliveryStatus::Pending);
    // A second worker replacing the same retry (its lease ran out) stores nothing.
    store
        .replace_plugin_retry("dlv_1", &[pending("dlv_4", "acme", "evt_1", "sub_1", T0 + 200)])
        .await
        .unwrap();
    assert!(store.get_delivery("acme", "dlv_4").await.unwrap().is_none());
    assert!(store.claim_plugin_retries(10, LEASE, T0 + 10 * LEASE, &[]).await.unwrap().is_empty());
    assert_eq!(claimed_ids(&*store, T0 + 200).await, ["dlv_3"]);

    // A disabled subscription's retries wait until it is enabled again.
    let paused = Subscription { enabled: false, ..subscription("acme", "sub_paused") };
    store.create_subscription(&paused).await.unwrap();
    let waiting = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        error: Some("plugin timed out".to_owned()),
        ..pending("dlv_paused", "acme", "evt_2", "sub_paused", T0 + 300)
    };
    seed(&*store, "evt_2", vec![waiting]).await;
    assert!(store.claim_plugin_retries(10, LEASE, T0 + 400, &[]).await.unwrap().is_empty(), "disabled");
    store.update_subscription(&subscription("acme", "sub_paused")).await.unwrap();
    let claimed = store.claim_plugin_retries(10, LEASE, T0 + 400, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["dlv_paused"]);
}

pub async fn paused_subscriptions_keep_their_retries_until_resumed(backend: &impl Backend) {
    let store = acme(backend).await;
    let waiting = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        error: Some("plugin runs paused".to_owned()),
        ..pending("dlv_1", "acme", "evt_1", "sub_1", T0)
    };
    seed(&*store, "evt_1", vec![waiting]).await;

    let reason = "plugin hit its deadline 20 times in a row";
    assert!(store.pause_subscription("acme", "sub_1", reason, T0 + 5).await.unwrap());
    assert!(!store.pause_subscription("acme", "sub_1", "again", T0 + 6).await.unwrap(), "paused already");
    assert!(!store.pause_subscription("globex", "sub_1", reason, T0 + 6).await.unwrap(), "another tenant's");
    let paused = store.get_subscription("acme", "sub_1").await.unwrap().unwrap();
    assert_eq!((paused.paused_reason.as_deref(), paused.paused_at), (Some(reason), Some(T0 + 5)));
    assert!(paused.enabled, "pausing plugin runs does not disable deliveries");
    assert!(store.claim_plugin_retries(10, LEASE, T0 + 100, &[]).await.unwrap().is_empty(), "paused");

    let resumed = Subscription { paused_reason: None, paused_at: None, ..paused };
    store.update_subscription(&resumed).await.unwrap();
    let acme = ["acme".to_owned()];
    assert!(store.claim_plugin_retries(10, LEASE, T0 + 100, &acme).await.unwrap().is_empty(), "excluded");
    let claimed = store.claim_plugin_retries(10, LEASE, T0 + 100, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["dlv_1"]);
}

pub async fn retry_delivery_makes_it_due(backend: &impl Backend) {
    use DeliveryStatus::*;
    let store = acme(backend).await;
    store.create_tenant(&tenant("globex")).await.unwrap();
    let skipped = NewDelivery {
        status: Skipped,
        request: None,
        next_attempt_at: None,
        ..pending("dlv_skip", "acme", "evt_1", "sub_1", T0)
    };
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_dead", "acme", "evt_1", "sub_1", T0),
            pending("dlv_ok", "acme", "evt_1", "sub_1", T0),
            pending("dlv_waiting", "acme", "evt_1", "sub_1", T0 + 50_000),
            skipped,
        ],
    )
    .await;
    claimed_ids(&*store, T0).await;
    store
        .record_attempts(&[
            outcome("dlv_dead", "sub_1", T0 + 1, Dead),
            outcome("dlv_ok", "sub_1", T0 + 1, Succeeded),
        ])
        .await
        .unwrap();

    let now = T0 + 5_000;
    assert!(store.retry_delivery("acme", "dlv_dead", now).await.unwrap());
    assert!(store.retry_delivery("acme", "dlv_ok", now).await.unwrap());
    assert!(!store.retry_delivery("acme", "dlv_waiting", now).await.unwrap(), "already waiting");
    assert!(!store.retry_delivery("acme", "dlv_skip", now).await.unwrap(), "no request");
    assert!(!store.retry_delivery("globex", "dlv_dead", now).await.unwrap(), "another tenant's");
    assert!(!store.retry_delivery("acme", "dlv_nope", now).await.unwrap());

    let retried = store.get_delivery("acme", "dlv_dead").await.unwrap().unwrap();
    assert_eq!((retried.status, retried.next_attempt_at, retried.attempts.len()), (Pending, Some(now), 1));
    let claimed = store.claim_deliveries(claim(10, LEASE, now)).await.unwrap();
    let claimed: Vec<_> = claimed.iter().map(|d| (d.id.as_str(), d.attempts)).collect();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.contains(&("dlv_dead", 1)) && claimed.contains(&("dlv_ok", 1)), "{claimed:?}");
}

pub async fn replay_deliveries_in_range(backend: &impl Backend) {
    use DeliveryStatus::*;
    let store = acme(backend).await;
    store.create_subscription(&subscription("acme", "sub_2")).await.unwrap();
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_10", "acme", "evt_1", "sub_1", T0 + 10),
            pending("dlv_20", "acme", "evt_1", "sub_1", T0 + 20),
            pending("dlv_25", "acme", "evt_1", "sub_1", T0 + 25),
            pending("dlv_30", "acme", "evt_1", "sub_1", T0 + 30),
            pending("dlv_other", "acme", "evt_1", "sub_2", T0 + 15),
        ],
    )
    .await;
    assert_eq!(claimed_ids(&*store, T0 + 30).await.len(), 5);
    let at = T0 + 40;
    store
        .record_attempts(&[
            outcome("dlv_10", "sub_1", at, Dead),
            outcome("dlv_20", "sub_1", at, Failed),
            outcome("dlv_25", "sub_1", at, Succeeded),
            outcome("dlv_30", "sub_1", at, Dead),
            outcome("dlv_other", "sub_2", at, Dead),
        ])
        .await
        .unwrap();

    let now = T0 + 100;
    assert_eq!(store.replay_deliveries("globex", "sub_1", T0, T0 + 100, now).await.unwrap(), 0);
    assert_eq!(store.replay_deliveries("acme", "sub_1", T0 + 10, T0 + 30, now).await.unwrap(), 2);
    for (id, status) in [
        ("dlv_10", Pending),
        ("dlv_20", Failed),
        ("dlv_25", Succeeded),
        ("dlv_30", Dead),
        ("dlv_other", Dead),
    ] {
        assert_eq!(status_of(&*store, id).await, status, "{id}");
    }
    let mut replayed = claimed_ids(&*store, now).await;
    replayed.sort();
    assert_eq!(replayed, ["dlv_10", "dlv_20"]);
}

pub async fn list_deliveries_filters_and_attempts(backend: &impl Backend) {
    use DeliveryStatus::*;
    let store = acme(backend).await;
    store.create_subscription(&subscription("acme", "sub_2")).await.unwrap();
    store.create_tenant(&tenant("globex")).await.unwrap();
    seed(
        &*store,
        "evt_1",
        vec![
            pending("dlv_1", "acme", "evt_1", "sub_1", T0 + 1),
            pending("dlv_2", "acme", "evt_1", "sub_2", T0 + 2),
        ],
    )
    .await;
    seed(
        &*store,
        "evt_2",
        vec![
            pending("dlv_3", "acme", "evt_2", "sub_1", T0 + 3),
            pending("dlv_4", "acme", "evt_2", "sub_2", T0 + 4),
        ],
    )
    .await;
    assert_eq!(claimed_ids(&*store, T0 + 4).await.len(), 4);
    store
        .record_attempts(&[
            outcome("dlv_1", "sub_1", T0 + 300, Failed),
            outcome("dlv_2", "sub_2", T0 + 300, Succeeded),
        ])
        .await
        .unwrap();
    // Recorded out of order (two workers): listed by time.
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 200, Failed)]).await.unwrap();

    let list = |filter: DeliveryFilter| {
        let store = store.clone();
        async move {
            store
                .list_deliveries("acme", &filter)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(DeliveryFilter::default()).await, ["dlv_4", "dlv_3", "dlv_2", "dlv_1"], "newest first");
    assert_eq!(list(DeliveryFilter { limit: 2, ..DeliveryFilter::default() }).await, ["dlv_4", "dlv_3"]);
    let by_event = DeliveryFilter { event_id: Some("evt_1".to_owned()), ..DeliveryFilter::default() };
    assert_eq!(list(by_event).await, ["dlv_2", "dlv_1"]);
    let by_subscription =
        DeliveryFilter { subscription_id: Some("sub_2".to_owned()), ..DeliveryFilter::default() };
    assert_eq!(list(by_subscription).await, ["dlv_4", "dlv_2"]);
    let by_status = DeliveryFilter { status: Some(Failed), ..DeliveryFilter::default() };
    assert_eq!(list(by_status).await, ["dlv_1"]);
    let all = DeliveryFilter {
        event_id: Some("evt_2".to_owned()),
        subscription_id: Some("sub_1".to_owned()),
        status: Some(Pending),
        holding_key: false,
        limit: 5,
    };
    assert_eq!(list(all).await, ["dlv_3"]);
    assert!(store.list_deliveries("globex", &DeliveryFilter::default()).await.unwrap().is_empty());

    let listed = store.list_deliveries("acme", &DeliveryFilter::default()).await.unwrap();
    let attempts: Vec<Vec<Millis>> =
        listed.iter().map(|d| d.attempts.iter().map(|a| a.at).collect()).collect();
    assert_eq!(attempts, [vec![], vec![], vec![T0 + 300], vec![T0 + 200, T0 + 300]]);
    assert_eq!(Some(&listed[3]), store.get_delivery("acme", "dlv_1").await.unwrap().as_ref());
}

pub async fn get_delivery_is_per_tenant(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_tenant(&tenant("globex")).await.unwrap();
    seed(&*store, "evt_1", vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0)]).await;
    assert!(store.get_delivery("acme", "dlv_1").await.unwrap().is_some());
    assert!(store.get_delivery("globex", "dlv_1").await.unwrap().is_none());
    assert!(store.get_delivery("acme", "dlv_2").await.unwrap().is_none());
}
