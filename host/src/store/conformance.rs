//! The behaviour every [`Store`] implementation must have, written once for all backends. A backend's tests
//! implement [`Backend`] and call `conformance_tests!(TheirBackend)`, which makes one `#[tokio::test]` per
//! behaviour below, named after it.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    ApiKeyInfo, AttemptRecord, DeliveryClaim, DeliveryFilter, DeliveryStatus, Inserted, LanePlace,
    LaneStatus, Millis, NewDelivery, NewEvent, NewPluginVersion, PluginScope, PluginVersion, ProcessedEvent,
    QueueStats, Store, StoreError, StoreResult, StoredRequest, Subscription, Tenant,
};

mod budgets;
mod concurrency;
mod connections;
mod customer;
mod deliveries;
mod handoff;
mod lanes;
mod rollouts;
mod stats;
mod tenancy;
mod trace_context;
pub use budgets::*;
pub use concurrency::*;
pub use connections::*;
pub use customer::*;
pub use deliveries::*;
pub use handoff::*;
pub use lanes::*;
pub use rollouts::*;
pub use stats::*;
pub use tenancy::*;
pub use trace_context::*;

/// A database to run one behaviour against.
#[async_trait]
pub trait Backend: Send + Sync + Sized + 'static {
    /// A fresh, empty database, for this test alone.
    async fn new() -> Self;
    /// A store on this database. Opening another after dropping the first must find what it wrote.
    async fn open(&self) -> Arc<dyn Store>;
    /// Its store's commits hand deliveries over to the committing worker (see `store::handoff`).
    const HANDS_OVER: bool = false;
}

/// `conformance_tests!(MyBackend)`: one test per behaviour, for that backend.
macro_rules! conformance_tests {
    ($backend:ty) => {
        $crate::store::conformance::conformance_tests!(@each $backend;
            tenants_are_unique,
            api_keys_map_to_tenants,
            api_keys_are_listed_and_revoked_and_sessions_ended,
            plugin_versions_are_numbered_per_name,
            plugin_get_latest_or_pinned,
            tenant_plugins_are_listed_by_scope,
            tenant_plugin_quotas_store_nothing_when_exceeded,
            old_plugin_versions_can_be_deleted_but_never_the_latest,
            live_plugin_versions_are_latest_and_pinned,
            tenant_policies_are_kept,
            plugin_logs_and_error_kinds_are_kept_with_deliveries,
            stored_events_can_be_read_back,
            connections_crud_is_per_tenant,
            connection_uses_are_recorded,
            claimed_deliveries_carry_their_endpoint_and_connections,
            subscriptions_crud,
            subscription_needs_tenant_and_unique_id,
            insert_events_reports_each_outcome,
            events_stored_leased_wait_for_their_lease,
            claim_events_leases,
            claims_skip_excluded_tenants,
            complete_events_stores_deliveries_once,
            a_commit_hands_over_only_what_the_claim_would_take_at_once,
            claim_deliveries_only_due_enabled_unleased,
            claim_deliveries_skips_deleted_subscriptions,
            claims_keep_each_endpoints_concurrency_bound,
            claims_keep_each_endpoints_rate_limit,
            claimed_delivery_has_request_secrets_and_headers,
            record_attempts_moves_status_and_health,
            record_attempts_can_disable_subscription,
            plugin_retries_are_claimed_and_replaced,
            paused_subscriptions_keep_their_retries_until_resumed,
            retry_delivery_makes_it_due,
            replay_deliveries_in_range,
            list_deliveries_filters_and_attempts,
            get_delivery_is_per_tenant,
            queue_stats_counts_waiting_work,
            purge_removes_only_old_finished_work,
            data_survives_reopening,
            concurrent_event_claims_are_disjoint,
            concurrent_delivery_claims_are_disjoint,
            ping_answers,
            rollouts_set_and_clear_the_canary,
            version_counts_and_reruns_cover_the_rollout_window,
            subscription_events_are_its_latest_with_when,
            dry_runs_are_kept_until_retention,
            subscriptions_following_a_plugin_are_those_without_a_version,
            ordered_lanes_send_one_head_per_key_in_acceptance_order,
            a_plugin_error_that_will_run_again_holds_its_key,
            blocked_keys_are_shown_and_a_dead_head_retried_leaves_its_lane,
            claims_keep_each_tenants_share,
            a_budgeted_destination_gets_one_slot_per_interval,
            a_paused_destination_waits_and_its_paced_attempts_do_not_count,
            what_waits_for_a_merging_plugin_is_leased_as_one_batch,
            reruns_supersede_and_hand_the_event_to_the_pipeline,
            health_counts_failures_and_each_change_is_told_once,
            idempotency_keys_answer_once_per_request,
            test_sends_platforms_and_filters_are_kept,
            delivery_stats_count_by_bucket_outcome_and_scope,
            trace_context_is_kept_and_claimed_deliveries_carry_it,
        );
    };
    (@each $backend:ty; $($behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                let backend = <$backend as $crate::store::conformance::Backend>::new().await;
                $crate::store::conformance::$behaviour(&backend).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;

const T0: Millis = 1_700_000_000_000;
const LEASE: i64 = 30_000;
/// The default concurrency bound per endpoint that the tests' claims pass: more than any test leases.
const ENDPOINT_BOUND: u32 = 1_000;

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.to_owned(),
        name: format!("{id} inc."),
        created_at: T0,
        policy_json: None,
        platforms: Vec::new(),
    }
}

fn subscription(tenant_id: &str, id: &str) -> Subscription {
    Subscription {
        id: id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        event_types: vec!["call.ended".to_owned(), "chat.*".to_owned()],
        plugin_name: "slack".to_owned(),
        plugin_version: None,
        endpoint_url: "https://hooks.example.com/in".to_owned(),
        config_json: r##"{"channel":"#calls"}"##.to_owned(),
        headers: vec![("authorization".to_owned(), "Bearer dest".to_owned())],
        secret: "whsec_current".to_owned(),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        max_in_flight: None,
        rate_limit: None,
        paused_reason: None,
        paused_at: None,
        created_at: T0,
        updated_at: T0,
        connections: vec!["hubspot-main".to_owned()],
        allowed_hosts: Some(vec!["hooks.example.com".to_owned()]),
        canary: None,
        ordering_key: None,
        ordering_max_hold_secs: None,
        name: None,
        filter: None,
        notify: None,
        trace_context: false,
    }
}

fn event(tenant_id: &str, id: &str, received_at: Millis) -> NewEvent {
    NewEvent {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        event_type: "call.ended".to_owned(),
        timestamp: "2024-05-01T10:00:00Z".to_owned(),
        data_json: format!(r#"{{"call":"{id}"}}"#),
        received_at,
        origin: None,
        lease_until: 0,
    }
}

fn request(body: &str) -> StoredRequest {
    StoredRequest {
        method: "POST".to_owned(),
        url: "https://hooks.example.com/in".to_owned(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.as_bytes().to_vec(),
    }
}

/// A `pending` delivery due at `due`, made at `due` too.
fn pending(id: &str, tenant_id: &str, event_id: &str, subscription_id: &str, due: Millis) -> NewDelivery {
    NewDelivery {
        id: id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        event_id: event_id.to_owned(),
        subscription_id: subscription_id.to_owned(),
        plugin: "slack@1".to_owned(),
        status: DeliveryStatus::Pending,
        request: Some(request(id)),
        error: None,
        error_kind: None,
        logs_json: None,
        next_attempt_at: Some(due),
        created_at: due,
        lane: None,
        destination: None,
        test: false,
        rerun_of: None,
    }
}

fn outcome(delivery_id: &str, subscription_id: &str, at: Millis, status: DeliveryStatus) -> AttemptRecord {
    let (status_code, next_attempt_at) = match status {
        DeliveryStatus::Succeeded => (Some(200), None),
        DeliveryStatus::Failed => (Some(503), Some(at + 1_000)),
        _ => (Some(500), None),
    };
    AttemptRecord {
        delivery_id: delivery_id.to_owned(),
        subscription_id: subscription_id.to_owned(),
        at,
        status_code,
        latency_ms: 12,
        response_excerpt: format!("answer at {at}"),
        error: None,
        new_status: status,
        next_attempt_at,
        disable_subscription: None,
        delivery_error: None,
        paced: false,
        batch_id: None,
        batch_limit: None,
    }
}

/// A store with tenant `acme` and its subscription `sub_1`.
async fn acme(backend: &impl Backend) -> Arc<dyn Store> {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_subscription(&subscription("acme", "sub_1")).await.unwrap();
    store
}

/// Stores event `event_id` of `acme`, processed into `deliveries`.
async fn seed(store: &dyn Store, event_id: &str, deliveries: Vec<NewDelivery>) {
    let inserted = store.insert_events(&[event("acme", event_id, T0)]).await.unwrap();
    assert!(matches!(inserted[..], [Inserted::New { .. }]), "{inserted:?}");
    let processed =
        ProcessedEvent { tenant_id: "acme".to_owned(), event_id: event_id.to_owned(), deliveries };
    store.complete_events(&[processed]).await.unwrap();
}

/// Adds a shared plugin version (no quota).
pub(super) async fn add_plugin(
    store: &dyn Store,
    name: &str,
    digest: &str,
    wasm: &[u8],
    at: Millis,
) -> StoreResult<PluginVersion> {
    store.add_plugin_version(&NewPluginVersion { name, digest, wasm, created_at: at, quota: None }).await
}

async fn claimed_ids(store: &dyn Store, now: Millis) -> Vec<String> {
    store
        .claim_deliveries(claim(100, LEASE, now))
        .await
        .unwrap()
        .into_iter()
        .map(|claimed| claimed.id)
        .collect()
}

/// A claim with no endpoint bound the tests reach and nothing sent yet.
fn claim(limit: u32, lease_ms: i64, now: Millis) -> DeliveryClaim<'static> {
    DeliveryClaim {
        limit,
        lease_ms,
        now,
        default_max_in_flight: ENDPOINT_BOUND,
        sent: &[],
        max_in_flight_per_tenant: u32::MAX,
        merging_plugins: &[],
        default_budget: |_| None,
    }
}

async fn status_of(store: &dyn Store, id: &str) -> DeliveryStatus {
    store.get_delivery("acme", id).await.unwrap().expect("delivery exists").status
}

pub async fn tenants_are_unique(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    assert_eq!(store.get_tenant("acme").await.unwrap(), Some(tenant("acme")));
    assert_eq!(store.get_tenant("globex").await.unwrap(), None);
    let again = store.create_tenant(&tenant("acme")).await.unwrap_err();
    assert!(matches!(&again, StoreError::Conflict(what) if what == "tenant acme"), "{again:?}");
    store.create_tenant(&tenant("000-first")).await.unwrap();
    let listed: Vec<String> = store.list_tenants().await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(listed, ["000-first", "acme"]);
}

pub async fn api_keys_map_to_tenants(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_api_key("acme", "ab12", "gk_ab", T0).await.unwrap();
    assert_eq!(store.tenant_for_api_key("ab12").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(store.tenant_for_api_key("cd34").await.unwrap(), None);
    let again = store.create_api_key("acme", "ab12", "gk_ab", T0).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let orphan = store.create_api_key("globex", "ef56", "gk_ef", T0).await.unwrap_err();
    assert!(matches!(&orphan, StoreError::NotFound(what) if what == "tenant globex"), "{orphan:?}");
}

pub async fn api_keys_are_listed_and_revoked_and_sessions_ended(backend: &impl Backend) {
    let store = backend.open().await;
    for id in ["acme", "globex"] {
        store.create_tenant(&tenant(id)).await.unwrap();
    }
    let (first, second) = ("0123456789abcdef0000", "fedcba98765432100000");
    store.create_api_key("acme", first, "gk_first", T0).await.unwrap();
    store.create_api_key("acme", second, "gk_second", T0 + 1).await.unwrap();
    store.record_api_key_use(second, T0 + 50).await.unwrap();
    let listed = store.list_api_keys("acme").await.unwrap();
    let expected = [
        ApiKeyInfo {
            id: "0123456789abcdef".into(),
            prefix: Some("gk_first".into()),
            created_at: T0,
            last_used_at: None,
        },
        ApiKeyInfo {
            id: "fedcba9876543210".into(),
            prefix: Some("gk_second".into()),
            created_at: T0 + 1,
            last_used_at: Some(T0 + 50),
        },
    ];
    assert_eq!(listed, expected);
    assert_eq!(store.list_api_keys("globex").await.unwrap(), []);
    // Another tenant cannot delete it; its tenant can, once.
    assert!(!store.delete_api_key("globex", "0123456789abcdef").await.unwrap());
    assert!(store.delete_api_key("acme", "0123456789abcdef").await.unwrap());
    assert!(!store.delete_api_key("acme", "0123456789abcdef").await.unwrap());
    assert_eq!(store.tenant_for_api_key(first).await.unwrap(), None);
    assert_eq!(store.tenant_for_api_key(second).await.unwrap().as_deref(), Some("acme"));

    assert_eq!(store.console_sessions_valid_after("acme").await.unwrap(), Some(0));
    assert!(store.end_console_sessions("acme", T0 + 10).await.unwrap());
    assert!(store.end_console_sessions("acme", T0 + 5).await.unwrap(), "never moves back");
    assert_eq!(store.console_sessions_valid_after("acme").await.unwrap(), Some(T0 + 10));
    assert_eq!(store.console_sessions_valid_after("globex").await.unwrap(), Some(0));
    assert_eq!(store.console_sessions_valid_after("nobody").await.unwrap(), None);
    assert!(!store.end_console_sessions("nobody", T0).await.unwrap());

    // A portal link is followed once; an expired one is forgotten.
    assert!(store.follow_portal_link("lnk_1", T0 + 100, T0).await.unwrap());
    assert!(!store.follow_portal_link("lnk_1", T0 + 100, T0 + 1).await.unwrap());
    assert!(store.follow_portal_link("lnk_2", T0 + 100, T0 + 1).await.unwrap());
    assert!(store.follow_portal_link("lnk_1", T0 + 300, T0 + 200).await.unwrap(), "forgotten once expired");

    // A shared secret is made once: the first candidate stays.
    assert_eq!(store.shared_secret("console.signing", "first").await.unwrap(), "first");
    assert_eq!(store.shared_secret("console.signing", "second").await.unwrap(), "first");
}

pub async fn plugin_versions_are_numbered_per_name(backend: &impl Backend) {
    let store = backend.open().await;
    for (n, digest) in ["sha256:01", "sha256:02", "sha256:03"].into_iter().enumerate() {
        let added = add_plugin(&*store, "slack", digest, b"wasm", T0 + n as i64).await.unwrap();
        assert_eq!((added.version, added.digest.as_str(), added.size_bytes), (n as u32 + 1, digest, 4));
    }
    // The latest binary uploaded again: the existing version, unchanged.
    let same = add_plugin(&*store, "slack", "sha256:03", b"wasm", T0 + 99).await.unwrap();
    assert_eq!((same.version, same.created_at), (3, T0 + 2));
    // An older binary again is a new version: rolling back is a deliberate step forward.
    assert_eq!(add_plugin(&*store, "slack", "sha256:01", b"wasm", T0).await.unwrap().version, 4);
    assert_eq!(add_plugin(&*store, "hubspot", "sha256:aa", b"hub", T0).await.unwrap().version, 1);

    let versions = store.list_plugin_versions("slack").await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let latest = store.list_plugins(PluginScope::All).await.unwrap();
    let latest: Vec<_> = latest.iter().map(|v| (v.name.as_str(), v.version)).collect();
    assert_eq!(latest, [("hubspot", 1), ("slack", 4)]);
    assert!(store.list_plugin_versions("nope").await.unwrap().is_empty());
}

pub async fn plugin_get_latest_or_pinned(backend: &impl Backend) {
    let store = backend.open().await;
    add_plugin(&*store, "slack", "sha256:01", b"first", T0).await.unwrap();
    add_plugin(&*store, "slack", "sha256:02", b"second", T0 + 1).await.unwrap();
    let (latest, wasm) = store.get_plugin("slack", None).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.digest.as_str(), wasm.as_slice()), (2, "sha256:02", &b"second"[..]));
    let (pinned, wasm) = store.get_plugin("slack", Some(1)).await.unwrap().unwrap();
    assert_eq!((pinned.version, pinned.size_bytes, wasm.as_slice()), (1, 5, &b"first"[..]));
    assert!(store.get_plugin("slack", Some(3)).await.unwrap().is_none());
    assert!(store.get_plugin("nope", None).await.unwrap().is_none());
}

pub async fn subscriptions_crud(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_tenant(&tenant("globex")).await.unwrap();
    let first = subscription("acme", "sub_1");
    let second = Subscription { created_at: T0 + 1, ..subscription("acme", "sub_2") };
    for s in [&first, &second, &subscription("globex", "sub_3")] {
        store.create_subscription(s).await.unwrap();
    }
    assert_eq!(store.get_subscription("acme", "sub_1").await.unwrap(), Some(first.clone()));
    assert_eq!(store.get_subscription("globex", "sub_1").await.unwrap(), None, "another tenant's");
    assert_eq!(store.list_subscriptions("acme").await.unwrap(), [first.clone(), second.clone()]);

    let updated = Subscription {
        event_types: vec!["*".to_owned()],
        plugin_version: Some(3),
        headers: vec![],
        previous_secret: Some(first.secret.clone()),
        previous_secret_expires_at: Some(T0 + 86_400_000),
        secret: "whsec_rotated".to_owned(),
        enabled: false,
        disabled_reason: Some("paused".to_owned()),
        failing_since: Some(T0 + 5),
        updated_at: T0 + 10,
        ..first.clone()
    };
    assert!(store.update_subscription(&updated).await.unwrap());
    assert_eq!(store.get_subscription("acme", "sub_1").await.unwrap(), Some(updated.clone()));
    let elsewhere = Subscription { tenant_id: "globex".to_owned(), ..updated.clone() };
    assert!(!store.update_subscription(&elsewhere).await.unwrap(), "another tenant's");
    assert!(!store.update_subscription(&subscription("acme", "sub_9")).await.unwrap());

    assert!(!store.delete_subscription("globex", "sub_1").await.unwrap(), "another tenant's");
    assert!(store.delete_subscription("acme", "sub_1").await.unwrap());
    assert_eq!(store.get_subscription("acme", "sub_1").await.unwrap(), None);
    assert!(!store.delete_subscription("acme", "sub_1").await.unwrap());
    assert_eq!(store.list_subscriptions("acme").await.unwrap(), [second]);
}

pub async fn subscription_needs_tenant_and_unique_id(backend: &impl Backend) {
    let store = backend.open().await;
    let orphan = store.create_subscription(&subscription("globex", "sub_1")).await.unwrap_err();
    assert!(matches!(&orphan, StoreError::NotFound(what) if what == "tenant globex"), "{orphan:?}");
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_tenant(&tenant("globex")).await.unwrap();
    store.create_subscription(&subscription("acme", "sub_1")).await.unwrap();
    // Ids are unique across tenants: attempts name a subscription by id alone.
    for taken in [subscription("acme", "sub_1"), subscription("globex", "sub_1")] {
        let again = store.create_subscription(&taken).await.unwrap_err();
        assert!(matches!(&again, StoreError::Conflict(what) if what == "subscription sub_1"), "{again:?}");
    }
}

pub async fn insert_events_reports_each_outcome(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    let changed = NewEvent { data_json: r#"{"changed":true}"#.to_owned(), ..event("acme", "evt_1", T0 + 5) };
    let batch = [
        event("acme", "evt_1", T0),
        changed.clone(),
        event("globex", "evt_1", T0),
        event("acme", "evt_2", T0 + 1),
    ];
    let inserted = store.insert_events(&batch).await.unwrap();
    use Inserted::*;
    let [New { seq: first }, Duplicate, UnknownTenant, New { seq: second }] = inserted[..] else {
        panic!("{inserted:?}")
    };
    assert_eq!(store.insert_events(&[changed]).await.unwrap(), [Duplicate]);
    assert!(store.insert_events(&[]).await.unwrap().is_empty());

    let claimed = store.claim_events(10, LEASE, T0 + 10, &[]).await.unwrap();
    let stored: Vec<_> =
        claimed.iter().map(|e| (e.id.as_str(), e.data_json.as_str(), e.received_at)).collect();
    assert_eq!(stored, [("evt_1", r#"{"call":"evt_1"}"#, T0), ("evt_2", r#"{"call":"evt_2"}"#, T0 + 1)]);
    assert_eq!(
        (claimed[0].event_type.as_str(), claimed[0].timestamp.as_str()),
        ("call.ended", "2024-05-01T10:00:00Z")
    );
    // Each new event's acceptance order, as its claim reads it.
    assert!(first < second, "{inserted:?}");
    assert_eq!((claimed[0].seq, claimed[1].seq), (first, second));
}

/// An event stored leased (handed to this instance's pipeline in memory) is no claim's until its lease
/// runs out; then any instance's (the one it was handed to died).
pub async fn events_stored_leased_wait_for_their_lease(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    let handed = NewEvent { lease_until: T0 + LEASE, ..event("acme", "evt_handed", T0) };
    let batch = [handed, event("acme", "evt_free", T0 + 1)];
    let inserted = store.insert_events(&batch).await.unwrap();
    let Inserted::New { seq } = inserted[0] else { panic!("{inserted:?}") };
    let ids = |claimed: Vec<super::ClaimedEvent>| claimed.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(store.claim_events(10, LEASE, T0 + 2, &[]).await.unwrap()), ["evt_free"]);
    assert!(store.claim_events(10, LEASE, T0 + LEASE - 1, &[]).await.unwrap().is_empty());
    let claimed = store.claim_events(10, LEASE, T0 + LEASE, &[]).await.unwrap();
    assert_eq!((claimed.len(), claimed[0].id.as_str(), claimed[0].seq), (1, "evt_handed", seq));
    assert_eq!(batch[0].clone().into_claimed(seq).data_json, claimed[0].data_json);
}

pub async fn claim_events_leases(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    let batch: Vec<_> = (1..=3).map(|n| event("acme", &format!("evt_{n}"), T0 + n)).collect();
    store.insert_events(&batch).await.unwrap();
    let ids = |claimed: Vec<super::ClaimedEvent>| claimed.into_iter().map(|e| e.id).collect::<Vec<_>>();

    let now = T0 + 100;
    assert_eq!(
        ids(store.claim_events(2, LEASE, now, &[]).await.unwrap()),
        ["evt_1", "evt_2"],
        "oldest first"
    );
    assert_eq!(ids(store.claim_events(10, LEASE, now + 1, &[]).await.unwrap()), ["evt_3"]);
    assert!(store.claim_events(10, LEASE, now + LEASE - 1, &[]).await.unwrap().is_empty(), "all leased");
    // The first lease has run out (a worker died): its events are claimed again, the third is still leased.
    assert_eq!(ids(store.claim_events(10, LEASE, now + LEASE, &[]).await.unwrap()), ["evt_1", "evt_2"]);
    assert!(store.claim_events(0, LEASE, now + 10 * LEASE, &[]).await.unwrap().is_empty(), "limit 0");
}

pub async fn claims_skip_excluded_tenants(backend: &impl Backend) {
    let store = backend.open().await;
    for name in ["acme", "globex"] {
        store.create_tenant(&tenant(name)).await.unwrap();
    }
    // Globex's backlog is older than acme's event.
    let mut batch: Vec<_> = (1..=3).map(|n| event("globex", &format!("evt_g{n}"), T0 + n)).collect();
    batch.push(event("acme", "evt_a1", T0 + 10));
    store.insert_events(&batch).await.unwrap();
    let ids = |claimed: Vec<super::ClaimedEvent>| claimed.into_iter().map(|e| e.id).collect::<Vec<_>>();

    let globex = ["globex".to_owned()];
    assert_eq!(ids(store.claim_events(2, LEASE, T0 + 100, &globex).await.unwrap()), ["evt_a1"]);
    assert!(store.claim_events(10, LEASE, T0 + 101, &globex).await.unwrap().is_empty());
    assert_eq!(
        ids(store.claim_events(10, LEASE, T0 + 102, &[]).await.unwrap()),
        ["evt_g1", "evt_g2", "evt_g3"],
        "left for a claim that does not exclude them"
    );
}

pub async fn complete_events_stores_deliveries_once(backend: &impl Backend) {
    let store = acme(backend).await;
    store.insert_events(&[event("acme", "evt_1", T0)]).await.unwrap();
    assert_eq!(store.claim_events(10, LEASE, T0, &[]).await.unwrap().len(), 1);
    let first = ProcessedEvent {
        tenant_id: "acme".to_owned(),
        event_id: "evt_1".to_owned(),
        deliveries: vec![
            pending("dlv_1", "acme", "evt_1", "sub_1", T0 + 1),
            NewDelivery {
                status: DeliveryStatus::Skipped,
                request: None,
                next_attempt_at: None,
                ..pending("dlv_2", "acme", "evt_1", "sub_1", T0 + 2)
            },
        ],
    };
    store.complete_events(std::slice::from_ref(&first)).await.unwrap();
    // A second worker whose lease ran out finishes the same event: nothing more is stored.
    let late =
        ProcessedEvent { deliveries: vec![pending("dlv_3", "acme", "evt_1", "sub_1", T0 + 3)], ..first };
    store.complete_events(&[late]).await.unwrap();
    store.complete_events(&[]).await.unwrap();

    let filter = DeliveryFilter { event_id: Some("evt_1".to_owned()), ..DeliveryFilter::default() };
    let stored = store.list_deliveries("acme", &filter).await.unwrap();
    let stored: Vec<_> = stored.iter().map(|d| (d.id.as_str(), d.status)).collect();
    assert_eq!(stored, [("dlv_2", DeliveryStatus::Skipped), ("dlv_1", DeliveryStatus::Pending)]);
    assert!(store.claim_events(10, LEASE, T0 + 10 * LEASE, &[]).await.unwrap().is_empty(), "processed");
    let delivery = store.get_delivery("acme", "dlv_1").await.unwrap().unwrap();
    assert_eq!((delivery.request, delivery.attempts.len()), (Some(request("dlv_1")), 0));
    assert_eq!(
        (delivery.plugin.as_str(), delivery.created_at, delivery.next_attempt_at),
        ("slack@1", T0 + 1, Some(T0 + 1))
    );
}

pub async fn queue_stats_counts_waiting_work(backend: &impl Backend) {
    let store = acme(backend).await;
    assert_eq!(store.queue_stats(T0).await.unwrap(), QueueStats::default());
    store.insert_events(&[event("acme", "evt_1", T0 + 100), event("acme", "evt_2", T0 + 200)]).await.unwrap();
    let stats = store.queue_stats(T0 + 1_000).await.unwrap();
    assert_eq!(stats, QueueStats { events_pending: 2, deliveries_pending: 0, oldest_pending_age_ms: 900 });

    let processed = |event_id: &str, deliveries| ProcessedEvent {
        tenant_id: "acme".to_owned(),
        event_id: event_id.to_owned(),
        deliveries,
    };
    let skipped = NewDelivery {
        status: DeliveryStatus::Skipped,
        request: None,
        next_attempt_at: None,
        ..pending("dlv_3", "acme", "evt_1", "sub_1", T0)
    };
    store
        .complete_events(&[
            processed("evt_1", vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0 + 500), skipped]),
            processed("evt_2", vec![pending("dlv_2", "acme", "evt_2", "sub_1", T0 + 5_000)]),
        ])
        .await
        .unwrap();
    // Both deliveries wait; the age counts from when the oldest became due.
    let stats = store.queue_stats(T0 + 1_000).await.unwrap();
    assert_eq!(stats, QueueStats { events_pending: 0, deliveries_pending: 2, oldest_pending_age_ms: 500 });

    claimed_ids(&*store, T0 + 1_000).await;
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 1_000, DeliveryStatus::Succeeded)]).await.unwrap();
    // Only a delivery scheduled for later is left: nothing is late.
    let stats = store.queue_stats(T0 + 1_000).await.unwrap();
    assert_eq!(stats, QueueStats { events_pending: 0, deliveries_pending: 1, oldest_pending_age_ms: 0 });
}

pub async fn purge_removes_only_old_finished_work(backend: &impl Backend) {
    let store = acme(backend).await;
    let events = [event("acme", "evt_1", T0), event("acme", "evt_2", T0), event("acme", "evt_3", T0)];
    store.insert_events(&events).await.unwrap();
    let processed = |event_id: &str, deliveries| ProcessedEvent {
        tenant_id: "acme".to_owned(),
        event_id: event_id.to_owned(),
        deliveries,
    };
    store
        .complete_events(&[
            processed("evt_1", vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0)]),
            processed("evt_2", vec![pending("dlv_2", "acme", "evt_2", "sub_1", T0 + 100_000)]),
        ])
        .await
        .unwrap();
    assert_eq!(claimed_ids(&*store, T0 + 1_000).await, vec!["dlv_1".to_owned()]);
    store.record_attempts(&[outcome("dlv_1", "sub_1", T0 + 1_000, DeliveryStatus::Succeeded)]).await.unwrap();

    // Nothing finished before the cut-off yet.
    assert_eq!(store.purge(T0 + 500, 100).await.unwrap(), 0);
    // The delivered event goes with its delivery and attempt; the waiting delivery, its event and the
    // unprocessed event stay.
    assert_eq!(store.purge(T0 + 2_000, 100).await.unwrap(), 3);
    assert_eq!(store.purge(T0 + 2_000, 100).await.unwrap(), 0);
    assert!(store.get_delivery("acme", "dlv_1").await.unwrap().is_none());
    assert!(store.get_delivery("acme", "dlv_2").await.unwrap().is_some());
    let again = store.insert_events(&events).await.unwrap();
    assert!(
        matches!(again[..], [Inserted::New { .. }, Inserted::Duplicate, Inserted::Duplicate]),
        "{again:?}"
    );
}

pub async fn data_survives_reopening(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_api_key("acme", "ab12", "gk_ab", T0).await.unwrap();
    add_plugin(&*store, "slack", "sha256:01", b"wasm", T0).await.unwrap();
    store.insert_events(&[event("acme", "evt_pending", T0)]).await.unwrap();
    seed(&*store, "evt_done", vec![pending("dlv_1", "acme", "evt_done", "sub_1", T0)]).await;
    drop(store);

    let store = backend.open().await;
    assert_eq!(store.get_tenant("acme").await.unwrap(), Some(tenant("acme")));
    assert_eq!(store.tenant_for_api_key("ab12").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(
        store.get_plugin("slack", Some(1)).await.unwrap().map(|(_, wasm)| wasm),
        Some(b"wasm".to_vec())
    );
    assert_eq!(store.get_subscription("acme", "sub_1").await.unwrap(), Some(subscription("acme", "sub_1")));
    let events = store.claim_events(10, LEASE, T0, &[]).await.unwrap();
    assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["evt_pending"]);
    assert_eq!(claimed_ids(&*store, T0).await, ["dlv_1"]);
}

pub async fn ping_answers(backend: &impl Backend) {
    backend.open().await.ping().await.unwrap();
}
