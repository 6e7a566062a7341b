//! Conformance behaviours of tenants' connections.

use super::{Backend, T0, acme, claim, pending, seed, tenant};
use crate::store::{Connection, ConnectionUse, StoreError};

fn connection(tenant_id: &str, name: &str) -> Connection {
    Connection {
        tenant_id: tenant_id.to_owned(),
        name: name.to_owned(),
        kind: "oauth2_refresh_token".to_owned(),
        hosts: vec!["api.hubapi.com".to_owned()],
        key_id: "k1".to_owned(),
        nonce: vec![1; 24],
        sealed: vec![7, 8, 9],
        broken_reason: None,
        last_error: None,
        last_used_at: None,
        last_refreshed_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

pub async fn connections_crud_is_per_tenant(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_tenant(&tenant("globex")).await.unwrap();
    store.create_connection(&connection("acme", "hubspot-main")).await.unwrap();
    store.create_connection(&connection("globex", "hubspot-main")).await.unwrap();
    let again = store.create_connection(&connection("acme", "hubspot-main")).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let orphan = store.create_connection(&connection("initech", "x")).await.unwrap_err();
    assert!(matches!(&orphan, StoreError::NotFound(what) if what == "tenant initech"), "{orphan:?}");

    let found = store.get_connection("acme", "hubspot-main").await.unwrap().unwrap();
    assert_eq!(found, connection("acme", "hubspot-main"));
    let changed =
        Connection { hosts: vec!["a.example".into()], sealed: vec![1], updated_at: T0 + 1, ..found };
    assert!(store.update_connection(&changed).await.unwrap());
    assert_eq!(store.get_connection("acme", "hubspot-main").await.unwrap().unwrap(), changed);
    assert_eq!(store.list_connections("acme").await.unwrap(), [changed]);
    assert_eq!(store.all_connections().await.unwrap().len(), 2);
    assert!(store.delete_connection("acme", "hubspot-main").await.unwrap());
    assert!(!store.delete_connection("acme", "hubspot-main").await.unwrap());
    assert!(store.get_connection("acme", "hubspot-main").await.unwrap().is_none());
    assert_eq!(store.list_connections("globex").await.unwrap().len(), 1);
}

pub async fn connection_uses_are_recorded(backend: &impl Backend) {
    let store = acme(backend).await;
    store.create_connection(&connection("acme", "crm")).await.unwrap();
    let resealed = ("k2".to_owned(), vec![2; 24], vec![4, 5]);
    let used =
        ConnectionUse { at: T0 + 5, refreshed: true, resealed: Some(resealed), ..ConnectionUse::default() };
    store.record_connection_use("acme", "crm", &used).await.unwrap();
    let after = store.get_connection("acme", "crm").await.unwrap().unwrap();
    assert_eq!((after.last_used_at, after.last_refreshed_at), (Some(T0 + 5), Some(T0 + 5)));
    assert_eq!((after.key_id.as_str(), after.sealed.as_slice()), ("k2", &[4u8, 5][..]));

    let failed =
        ConnectionUse { at: T0 + 6, error: Some("token endpoint answered 503".into()), ..Default::default() };
    store.record_connection_use("acme", "crm", &failed).await.unwrap();
    let broken = ConnectionUse {
        at: T0 + 7,
        broken: Some("invalid_grant".into()),
        error: Some("revoked".into()),
        ..Default::default()
    };
    store.record_connection_use("acme", "crm", &broken).await.unwrap();
    let after = store.get_connection("acme", "crm").await.unwrap().unwrap();
    assert_eq!(
        (after.last_refreshed_at, after.broken_reason.as_deref()),
        (Some(T0 + 5), Some("invalid_grant"))
    );
    assert_eq!(after.last_error.as_deref(), Some("revoked"));
    assert_eq!(after.sealed, [4, 5], "unchanged without a new seal");
}

pub async fn claimed_deliveries_carry_their_endpoint_and_connections(backend: &impl Backend) {
    let store = acme(backend).await;
    seed(&*store, "evt_1", vec![pending("dlv_1", "acme", "evt_1", "sub_1", T0)]).await;
    let claimed = store.claim_deliveries(claim(10, 1_000, T0)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint_url, "https://hooks.example.com/in");
    assert_eq!(claimed[0].connections, ["hubspot-main"]);
    let subscription = store.get_subscription("acme", "sub_1").await.unwrap().unwrap();
    assert_eq!(subscription.allowed_hosts, Some(vec!["hooks.example.com".to_owned()]));
}
