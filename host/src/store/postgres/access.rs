//! Access: tenants' API keys as they are listed and revoked, the end of a tenant's console sessions, and
//! portal links followed once.

use deadpool_postgres::Client;

use super::{execute, query};
use crate::store::{ApiKeyInfo, Millis, StoreResult};

pub(super) async fn list_api_keys(client: &Client, tenant_id: &str) -> StoreResult<Vec<ApiKeyInfo>> {
    let rows = query(
        client,
        "SELECT substr(key_sha256, 1, 16), prefix, created_at, last_used_at FROM api_keys
         WHERE tenant_id = $1 ORDER BY created_at, key_sha256",
        &[&tenant_id],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ApiKeyInfo {
                id: row.try_get(0)?,
                prefix: row.try_get(1)?,
                created_at: row.try_get(2)?,
                last_used_at: row.try_get(3)?,
            })
        })
        .collect()
}

pub(super) async fn delete_api_key(client: &Client, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let deleted = execute(
        client,
        "DELETE FROM api_keys WHERE tenant_id = $1 AND substr(key_sha256, 1, 16) = $2",
        &[&tenant_id, &id],
    )
    .await?;
    Ok(deleted > 0)
}

pub(super) async fn record_api_key_use(client: &Client, key_sha256: &str, at: Millis) -> StoreResult<()> {
    execute(client, "UPDATE api_keys SET last_used_at = $2 WHERE key_sha256 = $1", &[&key_sha256, &at])
        .await?;
    Ok(())
}

pub(super) async fn end_console_sessions(client: &Client, tenant_id: &str, at: Millis) -> StoreResult<bool> {
    let updated = execute(
        client,
        "UPDATE tenants SET sessions_valid_after = greatest(sessions_valid_after, $2) WHERE id = $1",
        &[&tenant_id, &at],
    )
    .await?;
    Ok(updated == 1)
}

pub(super) async fn console_sessions_valid_after(
    client: &Client,
    tenant_id: &str,
) -> StoreResult<Option<Millis>> {
    let rows = query(client, "SELECT sessions_valid_after FROM tenants WHERE id = $1", &[&tenant_id]).await?;
    Ok(rows.first().map(|row| row.try_get(0)).transpose()?)
}

pub(super) async fn follow_link(
    client: &Client,
    id: &str,
    expires_at: Millis,
    now: Millis,
) -> StoreResult<bool> {
    execute(client, "DELETE FROM followed_links WHERE expires_at < $1", &[&now]).await?;
    let inserted = execute(
        client,
        "INSERT INTO followed_links (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        &[&id, &expires_at],
    )
    .await?;
    Ok(inserted == 1)
}

pub(super) async fn shared_secret(client: &Client, name: &str, candidate: &str) -> StoreResult<String> {
    execute(
        client,
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &candidate],
    )
    .await?;
    let rows = query(client, "SELECT value FROM secrets WHERE name = $1", &[&name]).await?;
    let row =
        rows.first().ok_or_else(|| crate::store::StoreError::Database(format!("secret {name} vanished")))?;
    Ok(row.try_get(0)?)
}
