//! Conformance behaviours of rollouts and dry runs: the canary set and cleared with the rollout, one
//! running rollout per subscription, the per-version counts, re-queuing a candidate's failures, a
//! subscription's past events, dry runs kept until retention, and the subscriptions an upload deploys to.

use super::*;
use crate::store::{
    Canary, DryRunRecord, HandBack, Requeued, RolloutEnd, RolloutRecord, RolloutState, VersionCount,
};

fn rollout(id: &str, started_at: Millis) -> RolloutRecord {
    RolloutRecord {
        id: id.to_owned(),
        tenant_id: "acme".to_owned(),
        subscription_id: "sub_1".to_owned(),
        state: RolloutState::Running,
        reruns_pending: false,
        started_at,
        ended_at: None,
        body_json: r#"{"plugin":"slack"}"#.to_owned(),
    }
}

fn canary(rollout_id: &str) -> Canary {
    Canary { rollout_id: rollout_id.to_owned(), version: 3, percent: 20 }
}

fn made_by(plugin: &str, delivery: NewDelivery) -> NewDelivery {
    NewDelivery { plugin: plugin.to_owned(), ..delivery }
}

pub async fn rollouts_set_and_clear_the_canary(backend: &impl Backend) {
    let store = acme(backend).await;
    store.start_rollout(&rollout("rol_1", T0), 2, &canary("rol_1")).await.unwrap();
    let running = store.get_subscription("acme", "sub_1").await.unwrap().unwrap();
    assert_eq!(
        (running.plugin_version, running.canary),
        (Some(2), Some(canary("rol_1"))),
        "pinned, canary set"
    );

    let second = store.start_rollout(&rollout("rol_2", T0 + 1), 2, &canary("rol_2")).await;
    assert!(
        matches!(second, Err(StoreError::Conflict(_))),
        "one running rollout per subscription: {second:?}"
    );
    let mut other = rollout("rol_x", T0);
    other.subscription_id = "sub_missing".to_owned();
    assert!(matches!(store.start_rollout(&other, 2, &canary("rol_x")).await, Err(StoreError::NotFound(_))));

    // A PATCH of the subscription leaves the canary alone.
    let edited =
        Subscription { endpoint_url: "https://hooks.example.com/v2".to_owned(), canary: None, ..running };
    assert!(store.update_subscription(&edited).await.unwrap());
    assert_eq!(store.get_subscription("acme", "sub_1").await.unwrap().unwrap().canary, Some(canary("rol_1")));

    let promote = RolloutEnd {
        state: RolloutState::Promoted,
        at: T0 + 50,
        body_json: r#"{"plugin":"slack","reason":"clean"}"#,
        pin_version: Some(3),
        reruns_pending: false,
    };
    assert!(!store.end_rollout("globex", "rol_1", &promote).await.unwrap(), "another tenant's rollout");
    assert!(store.end_rollout("acme", "rol_1", &promote).await.unwrap());
    assert!(!store.end_rollout("acme", "rol_1", &promote).await.unwrap(), "ended once");
    let promoted = store.get_subscription("acme", "sub_1").await.unwrap().unwrap();
    assert_eq!((promoted.plugin_version, promoted.canary), (Some(3), None));
    let ended = store.get_rollout("acme", "rol_1").await.unwrap().unwrap();
    assert_eq!(
        (ended.state, ended.ended_at, ended.body_json.as_str()),
        (RolloutState::Promoted, Some(T0 + 50), promote.body_json)
    );
    assert!(store.get_rollout("globex", "rol_1").await.unwrap().is_none());

    // A rollback keeps the pin, and the rollout is watched until its re-runs are done.
    store.start_rollout(&rollout("rol_2", T0 + 100), 3, &canary("rol_2")).await.unwrap();
    let roll_back =
        RolloutEnd { state: RolloutState::RolledBack, pin_version: None, reruns_pending: true, ..promote };
    assert!(store.end_rollout("acme", "rol_2", &roll_back).await.unwrap());
    let rolled_back = store.get_subscription("acme", "sub_1").await.unwrap().unwrap();
    assert_eq!((rolled_back.plugin_version, rolled_back.canary), (Some(3), None));
    let watched: Vec<String> = store.rollouts_to_watch().await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(watched, ["rol_2"]);
    store.update_rollout("rol_2", r#"{"reruns":4}"#, false).await.unwrap();
    assert!(store.rollouts_to_watch().await.unwrap().is_empty());
    let listed: Vec<String> =
        store.list_rollouts("acme", "sub_1").await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(listed, ["rol_2", "rol_1"], "newest first");
    assert_eq!(store.get_rollout("acme", "rol_2").await.unwrap().unwrap().body_json, r#"{"reruns":4}"#);
    // Its candidate version stays loadable while the canary runs.
    store
        .start_rollout(&rollout("rol_3", T0 + 200), 3, &Canary { version: 7, ..canary("rol_3") })
        .await
        .unwrap();
    assert!(store.live_plugin_versions().await.unwrap().contains(&("slack".to_owned(), 7)));
}

pub async fn version_counts_and_reruns_cover_the_rollout_window(backend: &impl Backend) {
    let store = acme(backend).await;
    let plugin_error = |id: &str, at| NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        next_attempt_at: None,
        error: Some("no phone".to_owned()),
        ..pending(id, "acme", "evt_1", "sub_1", at)
    };
    seed(
        &*store,
        "evt_1",
        vec![
            made_by("slack@3", pending("dlv_before", "acme", "evt_1", "sub_1", T0 - 10)),
            made_by("slack@3", pending("dlv_pending", "acme", "evt_1", "sub_1", T0 + 100)),
            made_by("slack@3", pending("dlv_sent", "acme", "evt_1", "sub_1", T0 + 2)),
            made_by("slack@3", pending("dlv_leased", "acme", "evt_1", "sub_1", T0 + 3)),
            made_by("slack@3", plugin_error("dlv_error", T0 + 4)),
            made_by("slack@3", plugin_error("dlv_error_2", T0 + 6)),
            made_by("slack@2", pending("dlv_current", "acme", "evt_1", "sub_1", T0 + 5)),
        ],
    )
    .await;
    let claimed = store.claim_deliveries(claim(10, LEASE, T0 + 3)).await.unwrap();
    assert_eq!(claimed.len(), 3, "dlv_before, dlv_sent and dlv_leased");
    store.record_attempts(&[outcome("dlv_sent", "sub_1", T0 + 6, DeliveryStatus::Succeeded)]).await.unwrap();

    let mut counts = store.version_counts("sub_1", T0).await.unwrap();
    counts.sort_by(|a, b| (&a.plugin, a.status.as_str()).cmp(&(&b.plugin, b.status.as_str())));
    let count = |plugin: &str, status, events| VersionCount { plugin: plugin.to_owned(), status, events };
    assert_eq!(
        counts,
        [
            count("slack@2", DeliveryStatus::Pending, 1),
            count("slack@3", DeliveryStatus::Pending, 1),
            count("slack@3", DeliveryStatus::PluginError, 1),
            count("slack@3", DeliveryStatus::Succeeded, 1),
        ],
        "events (not deliveries) per version and status, since the start"
    );

    // `dlv_leased` (claimed at T0 + 3) is being sent: left for a later pass. The first failure is kept
    // with the rollout (one at most here), before the re-runs replace it.
    store.start_rollout(&rollout("rol_1", T0), 2, &canary("rol_1")).await.unwrap();
    let rerun = |now, claimed_by_lease_end| HandBack {
        rollout_id: "rol_1",
        tenant_id: "acme",
        subscription_id: "sub_1",
        plugin: "slack@3",
        since: T0,
        now,
        reason: "rolled back",
        keep_failures: 1,
        claimed_by_lease_end,
    };
    let first = store.requeue_for_rerun(&rerun(T0 + 7, T0 + 7 + LEASE)).await.unwrap();
    assert_eq!(first, Requeued { requeued: 3, leased: 1, awaiting: 3, in_flight: 0 });
    for id in ["dlv_pending", "dlv_error", "dlv_error_2"] {
        let delivery = store.get_delivery("acme", id).await.unwrap().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::PluginError, "{id}");
        assert_eq!(
            (delivery.error.as_deref(), delivery.error_kind.as_deref()),
            (Some("rolled back"), Some("rolled_back"))
        );
        assert_eq!(delivery.next_attempt_at, Some(T0 + 7), "{id} runs again at once");
    }
    let kept = store.rollout_failures("acme", "rol_1").await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0].delivery_id.as_str(), kept[0].event_id.as_str(), kept[0].status, kept[0].error.as_deref()),
        ("dlv_error", "evt_1", DeliveryStatus::PluginError, Some("no phone")),
        "the oldest failure, as it was before it was handed back"
    );
    assert!(store.rollout_failures("globex", "rol_1").await.unwrap().is_empty(), "another tenant's");
    assert_eq!(status_of(&*store, "dlv_sent").await, DeliveryStatus::Succeeded, "a success stays");
    assert_eq!(
        status_of(&*store, "dlv_current").await,
        DeliveryStatus::Pending,
        "the current version's stay"
    );
    assert_eq!(
        status_of(&*store, "dlv_before").await,
        DeliveryStatus::Pending,
        "before the rollout: not its own"
    );
    let later = store.requeue_for_rerun(&rerun(T0 + 3 + LEASE, T0 + 7 + LEASE)).await.unwrap();
    assert_eq!(
        later,
        Requeued { requeued: 1, leased: 0, awaiting: 4, in_flight: 0 },
        "once its lease ran out; none twice"
    );
    assert_eq!(store.rollout_failures("acme", "rol_1").await.unwrap(), kept, "no more than kept at most");

    // The plugin-retry claim takes them up, and a re-run replaces them (with any attempts).
    let retries = store.claim_plugin_retries(10, LEASE, T0 + 3 + LEASE, &[]).await.unwrap();
    let mut ids: Vec<&str> = retries.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["dlv_error", "dlv_error_2", "dlv_leased", "dlv_pending"]);
    let rerun_of = |n: usize| {
        made_by("slack@2", pending(&format!("dlv_rerun_{n}"), "acme", "evt_1", "sub_1", T0 + 3 + LEASE))
    };
    store.replace_plugin_retry("dlv_leased", &[rerun_of(1)]).await.unwrap();
    assert!(store.get_delivery("acme", "dlv_leased").await.unwrap().is_none());
    assert_eq!(status_of(&*store, "dlv_rerun_1").await, DeliveryStatus::Pending);
    let now = T0 + 4 + LEASE;
    let some_left = store.requeue_for_rerun(&rerun(now, T0 + 7 + LEASE)).await.unwrap();
    assert_eq!(some_left, Requeued { awaiting: 3, ..Requeued::default() }, "three still to run again");
    for (n, id) in ["dlv_error", "dlv_error_2", "dlv_pending"].into_iter().enumerate() {
        store.replace_plugin_retry(id, &[rerun_of(n + 2)]).await.unwrap();
    }
    assert_eq!(store.requeue_for_rerun(&rerun(now, T0 + 7 + LEASE)).await.unwrap(), Requeued::default());

    // An event of the tenant claimed before the rollback (its lease ending by the bound) may still commit
    // a candidate's delivery; one claimed after cannot have seen the canary.
    store.insert_events(&[event("acme", "evt_in_flight", now)]).await.unwrap();
    assert_eq!(store.claim_events(10, LEASE, now, &[]).await.unwrap().len(), 1);
    let claimed_before = store.requeue_for_rerun(&rerun(now + 1, now + LEASE)).await.unwrap();
    assert_eq!(claimed_before, Requeued { in_flight: 1, ..Requeued::default() });
    let claimed_after = store.requeue_for_rerun(&rerun(now + 1, now + LEASE - 1)).await.unwrap();
    assert_eq!(claimed_after, Requeued::default());
}

pub async fn subscription_events_are_its_latest_with_when(backend: &impl Backend) {
    let store = acme(backend).await;
    for (n, at) in [(1, T0), (2, T0 + 10), (3, T0 + 20)] {
        let event_id = format!("evt_{n}");
        store.insert_events(&[event("acme", &event_id, at)]).await.unwrap();
        let made = pending(&format!("dlv_{n}"), "acme", &event_id, "sub_1", at);
        let other = pending(&format!("dlv_other_{n}"), "acme", &event_id, "sub_other", at);
        let processed =
            ProcessedEvent { tenant_id: "acme".to_owned(), event_id, deliveries: vec![made, other] };
        store.complete_events(&[processed]).await.unwrap();
    }
    let ids = |rows: Vec<(Millis, crate::store::ClaimedEvent)>| -> Vec<(Millis, String)> {
        rows.into_iter().map(|(at, event)| (at, event.id)).collect()
    };
    let all = store.subscription_events("acme", "sub_1", 0, Millis::MAX, 10).await.unwrap();
    assert_eq!(all[0].1.data_json, r#"{"call":"evt_3"}"#);
    assert_eq!(
        ids(all),
        [(T0 + 20, "evt_3".to_owned()), (T0 + 10, "evt_2".to_owned()), (T0, "evt_1".to_owned())]
    );
    let window = store.subscription_events("acme", "sub_1", T0, T0 + 20, 1).await.unwrap();
    assert_eq!(ids(window), [(T0 + 10, "evt_2".to_owned())], "in [from, to), newest first, limited");
    assert!(store.subscription_events("globex", "sub_1", 0, Millis::MAX, 10).await.unwrap().is_empty());
}

pub async fn dry_runs_are_kept_until_retention(backend: &impl Backend) {
    let store = acme(backend).await;
    let mut dry_run = DryRunRecord {
        id: "dry_1".to_owned(),
        tenant_id: "acme".to_owned(),
        subscription_id: "sub_1".to_owned(),
        status: "running".to_owned(),
        body_json: r#"{"events_done":0}"#.to_owned(),
        created_at: T0,
        updated_at: T0,
    };
    store.save_dry_run(&dry_run).await.unwrap();
    dry_run.status = "done".to_owned();
    dry_run.body_json = r#"{"events_done":50}"#.to_owned();
    dry_run.updated_at = T0 + 5;
    store.save_dry_run(&dry_run).await.unwrap();
    assert_eq!(store.get_dry_run("acme", "dry_1").await.unwrap(), Some(dry_run.clone()));
    assert!(store.get_dry_run("globex", "dry_1").await.unwrap().is_none());
    store.purge(T0 + 5, 100).await.unwrap();
    assert!(store.get_dry_run("acme", "dry_1").await.unwrap().is_some(), "not older than the cut-off");
    while store.purge(T0 + 6, 100).await.unwrap() > 0 {}
    assert!(store.get_dry_run("acme", "dry_1").await.unwrap().is_none());
}

pub async fn subscriptions_following_a_plugin_are_those_without_a_version(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_tenant(&tenant("globex")).await.unwrap();
    let pinned =
        Subscription { id: "sub_pinned".to_owned(), plugin_version: Some(1), ..subscription("acme", "x") };
    let other = Subscription {
        id: "sub_other".to_owned(),
        plugin_name: "hubspot".to_owned(),
        ..subscription("acme", "x")
    };
    let later = Subscription { created_at: T0 + 1, ..subscription("globex", "sub_globex") };
    for subscription in [&pinned, &other, &later] {
        store.create_subscription(subscription).await.unwrap();
    }
    let following: Vec<(String, String)> = store
        .subscriptions_following("slack")
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.tenant_id, s.id))
        .collect();
    assert_eq!(
        following,
        [("acme".to_owned(), "sub_1".to_owned()), ("globex".to_owned(), "sub_globex".to_owned())],
        "every tenant's, oldest first; not the pinned one, nor another plugin's"
    );
    assert!(store.subscriptions_following("acme/crm").await.unwrap().is_empty());
}
