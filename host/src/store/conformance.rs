//! The behaviour every [`Store`] implementation must have, written once for all backends. A backend's tests
//! implement [`Backend`] and call `conformance_tests!(TheirBackend)`, which makes one `#[tokio::test]` per
//! behaviour below, named after it.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    AttemptRecord, DeliveryClaim, DeliveryFilter, DeliveryStatus, Inserted, Millis, NewDelivery, NewEvent,
    NewPluginVersion, PluginScope, PluginVersion, ProcessedEvent, QueueStats, Store, StoreError, StoreResult,
    StoredRequest, Subscription, Tenant,
};

mod connections;
mod tenancy;
pub use connections::*;
pub use tenancy::*;

/// A database to run one behaviour against.
#[async_trait]
pub trait Backend: Send + Sync + Sized + 'static {
    /// A fresh, empty database, for this test alone.
    async fn new() -> Self;
    /// A store on this database. Opening another after dropping the first must find what it wrote.
    async fn open(&self) -> Arc<dyn Store>;
}

/// `conformance_tests!(MyBackend)`: one test per behaviour, for that backend.
macro_rules! conformance_tests {
    ($backend:ty) => {
        $crate::store::conformance::conformance_tests!(@each $backend;
            tenants_are_unique,
            api_keys_map_to_tenants,
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
            claim_events_leases,
            claims_skip_excluded_tenants,
            complete_events_stores_deliveries_once,
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
    Tenant { id: id.to_owned(), name: format!("{id} inc."), created_at: T0, policy_json: None }
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
    assert_eq!(inserted, [Inserted::New]);
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
    DeliveryClaim { limit, lease_ms, now, default_max_in_flight: ENDPOINT_BOUND, sent: &[] }
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
}

pub async fn api_keys_map_to_tenants(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_api_key("acme", "ab12", T0).await.unwrap();
    assert_eq!(store.tenant_for_api_key("ab12").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(store.tenant_for_api_key("cd34").await.unwrap(), None);
    let again = store.create_api_key("acme", "ab12", T0).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let orphan = store.create_api_key("globex", "ef56", T0).await.unwrap_err();
    assert!(matches!(&orphan, StoreError::NotFound(what) if what == "tenant globex"), "{orphan:?}");
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
    assert_eq!(inserted, [New, Duplicate, UnknownTenant, New]);
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
    assert_eq!(again, vec![Inserted::New, Inserted::Duplicate, Inserted::Duplicate]);
}

pub async fn data_survives_reopening(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_api_key("acme", "ab12", T0).await.unwrap();
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

pub async fn ping_answers(backend: &impl Backend) {
    backend.open().await.ping().await.unwrap();
}
