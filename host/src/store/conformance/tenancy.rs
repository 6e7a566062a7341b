//! Conformance behaviours of tenants' own plugins, quotas and policies, and of what a plugin run leaves
//! with its deliveries (error kinds, logs).

use super::{Backend, T0, acme, add_plugin, pending, seed, tenant};
use crate::store::{
    DeliveryStatus, NewDelivery, NewPluginVersion, PluginQuota, PluginScope, PluginUsage, StoreError,
    Subscription,
};

fn names(versions: &[crate::store::PluginVersion]) -> Vec<(&str, u32)> {
    versions.iter().map(|v| (v.name.as_str(), v.version)).collect()
}

pub async fn tenant_plugins_are_listed_by_scope(backend: &impl Backend) {
    let store = backend.open().await;
    for (name, digest) in [("slack", "sha256:01"), ("acme/crm", "sha256:02"), ("acme.b/crm", "sha256:03")] {
        add_plugin(&*store, name, digest, b"wasm", T0).await.unwrap();
    }
    add_plugin(&*store, "acme/crm", "sha256:04", b"wasm2", T0).await.unwrap();
    add_plugin(&*store, "acme0/x", "sha256:05", b"w", T0).await.unwrap();

    let shared = store.list_plugins(PluginScope::Shared).await.unwrap();
    assert_eq!(names(&shared), [("slack", 1)]);
    // `acme.b/…` and `acme0/…` share a prefix with `acme` but are other tenants' plugins.
    let own = store.list_plugins(PluginScope::Tenant("acme")).await.unwrap();
    assert_eq!(names(&own), [("acme/crm", 2)]);
    let all = store.list_plugins(PluginScope::All).await.unwrap();
    assert_eq!(names(&all), [("acme.b/crm", 1), ("acme/crm", 2), ("acme0/x", 1), ("slack", 1)]);
    let usage = store.tenant_plugin_usage("acme").await.unwrap();
    assert_eq!(usage, PluginUsage { versions: 2, bytes: 9 });
    assert_eq!(store.tenant_plugin_usage("globex").await.unwrap(), PluginUsage::default());
}

pub async fn tenant_plugin_quotas_store_nothing_when_exceeded(backend: &impl Backend) {
    let store = backend.open().await;
    let quota = PluginQuota { tenant_id: "acme", max_versions_per_plugin: 2, max_total_bytes: 10 };
    let upload = |name: &'static str, digest: &'static str, wasm: &'static [u8]| NewPluginVersion {
        name,
        digest,
        wasm,
        created_at: T0,
        quota: Some(quota),
    };
    store.add_plugin_version(&upload("acme/crm", "sha256:01", b"1234")).await.unwrap();
    store.add_plugin_version(&upload("acme/crm", "sha256:02", b"1234")).await.unwrap();
    let third = store.add_plugin_version(&upload("acme/crm", "sha256:03", b"1")).await.unwrap_err();
    assert!(
        matches!(third, StoreError::QuotaExceeded { quota: "max_versions_per_plugin", limit: 2, used: 2 }),
        "{third:?}"
    );
    // The same binary as the latest is not a new version, so it needs no room.
    assert_eq!(store.add_plugin_version(&upload("acme/crm", "sha256:02", b"1234")).await.unwrap().version, 2);
    let big = store.add_plugin_version(&upload("acme/sheets", "sha256:04", b"12345")).await.unwrap_err();
    assert!(
        matches!(big, StoreError::QuotaExceeded { quota: "max_plugin_bytes_total", limit: 10, used: 8 }),
        "{big:?}"
    );
    assert_eq!(store.tenant_plugin_usage("acme").await.unwrap(), PluginUsage { versions: 2, bytes: 8 });
    assert!(store.list_plugin_versions("acme/sheets").await.unwrap().is_empty());
}

pub async fn old_plugin_versions_can_be_deleted_but_never_the_latest(backend: &impl Backend) {
    let store = backend.open().await;
    for digest in ["sha256:01", "sha256:02", "sha256:03"] {
        add_plugin(&*store, "acme/crm", digest, b"wasm", T0).await.unwrap();
    }
    assert!(!store.delete_plugin_version("acme/crm", 3).await.unwrap(), "the latest stays");
    assert!(store.delete_plugin_version("acme/crm", 1).await.unwrap());
    assert!(!store.delete_plugin_version("acme/crm", 1).await.unwrap(), "already gone");
    let left: Vec<u32> =
        store.list_plugin_versions("acme/crm").await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(left, [2, 3]);
    // Numbers go on from the highest ever given.
    assert_eq!(add_plugin(&*store, "acme/crm", "sha256:04", b"wasm", T0).await.unwrap().version, 4);
}

pub async fn live_plugin_versions_are_latest_and_pinned(backend: &impl Backend) {
    let store = acme(backend).await;
    for digest in ["sha256:01", "sha256:02", "sha256:03"] {
        add_plugin(&*store, "slack", digest, b"wasm", T0).await.unwrap();
    }
    add_plugin(&*store, "acme/crm", "sha256:aa", b"wasm", T0).await.unwrap();
    let pinned = Subscription {
        plugin_name: "slack".to_owned(),
        plugin_version: Some(1),
        ..super::subscription("acme", "sub_pinned")
    };
    store.create_subscription(&pinned).await.unwrap();
    let mut live = store.live_plugin_versions().await.unwrap();
    live.sort();
    assert_eq!(live, [("acme/crm".to_owned(), 1), ("slack".to_owned(), 1), ("slack".to_owned(), 3)]);
}

pub async fn tenant_policies_are_kept(backend: &impl Backend) {
    let store = backend.open().await;
    store.create_tenant(&tenant("acme")).await.unwrap();
    let policy = r#"{"limits":{"timeout_ms":20}}"#;
    assert!(store.set_tenant_policy("acme", Some(policy)).await.unwrap());
    assert_eq!(store.get_tenant("acme").await.unwrap().unwrap().policy_json.as_deref(), Some(policy));
    assert!(store.set_tenant_policy("acme", None).await.unwrap());
    assert_eq!(store.get_tenant("acme").await.unwrap().unwrap().policy_json, None);
    assert!(!store.set_tenant_policy("globex", Some(policy)).await.unwrap());
}

pub async fn plugin_logs_and_error_kinds_are_kept_with_deliveries(backend: &impl Backend) {
    let store = acme(backend).await;
    let logs = r#"{"lines":[{"level":"info","message":"mapping call"}]}"#;
    let failed = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        error: Some("trap: panicked at src/lib.rs:3:5: no phone".to_owned()),
        error_kind: Some("trap".to_owned()),
        logs_json: Some(logs.to_owned()),
        next_attempt_at: None,
        ..pending("dlv_1", "acme", "evt_1", "sub_1", T0)
    };
    seed(&*store, "evt_1", vec![failed, pending("dlv_2", "acme", "evt_1", "sub_1", T0)]).await;
    let failed = store.get_delivery("acme", "dlv_1").await.unwrap().unwrap();
    assert_eq!((failed.error_kind.as_deref(), failed.logs_json.as_deref()), (Some("trap"), Some(logs)));
    let quiet = store.get_delivery("acme", "dlv_2").await.unwrap().unwrap();
    assert_eq!((quiet.error_kind, quiet.logs_json), (None, None));
    // A plugin retry's new run brings its own logs.
    let retried =
        NewDelivery { logs_json: Some(logs.to_owned()), ..pending("dlv_3", "acme", "evt_1", "sub_1", T0) };
    let transient = NewDelivery {
        status: DeliveryStatus::PluginError,
        request: None,
        next_attempt_at: Some(T0),
        ..pending("dlv_4", "acme", "evt_2", "sub_1", T0)
    };
    seed(&*store, "evt_2", vec![transient]).await;
    store.replace_plugin_retry("dlv_4", &[retried]).await.unwrap();
    assert_eq!(store.get_delivery("acme", "dlv_3").await.unwrap().unwrap().logs_json.as_deref(), Some(logs));
}

pub async fn stored_events_can_be_read_back(backend: &impl Backend) {
    let store = acme(backend).await;
    store.insert_events(&[super::event("acme", "evt_1", T0)]).await.unwrap();
    let found = store.get_event("acme", "evt_1").await.unwrap().expect("stored");
    let sent = super::event("acme", "evt_1", T0);
    assert_eq!(
        (found.event_type, found.timestamp, found.data_json, found.received_at),
        (sent.event_type, sent.timestamp, sent.data_json, T0)
    );
    assert!(store.get_event("globex", "evt_1").await.unwrap().is_none());
    assert!(store.get_event("acme", "evt_2").await.unwrap().is_none());
}
