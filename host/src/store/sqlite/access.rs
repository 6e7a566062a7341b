//! Access: tenants' API keys as they are listed and revoked, the end of a tenant's console sessions, and
//! portal links followed once.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{ApiKeyInfo, Millis, StoreResult};

pub(super) fn list_api_keys(conn: &Connection, tenant_id: &str) -> StoreResult<Vec<ApiKeyInfo>> {
    let mut statement = conn.prepare_cached(
        "SELECT substr(key_sha256, 1, 16), prefix, created_at, last_used_at FROM api_keys
         WHERE tenant_id = ?1 ORDER BY created_at, key_sha256",
    )?;
    let rows = statement.query_map([tenant_id], |row| {
        Ok(ApiKeyInfo {
            id: row.get(0)?,
            prefix: row.get(1)?,
            created_at: row.get(2)?,
            last_used_at: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn delete_api_key(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM api_keys WHERE tenant_id = ?1 AND substr(key_sha256, 1, 16) = ?2")?
        .execute(params![tenant_id, id])?
        > 0)
}

pub(super) fn record_api_key_use(conn: &Connection, key_sha256: &str, at: Millis) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE key_sha256 = ?1")?
        .execute(params![key_sha256, at])?;
    Ok(())
}

pub(super) fn end_console_sessions(conn: &Connection, tenant_id: &str, at: Millis) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE tenants SET sessions_valid_after = max(sessions_valid_after, ?2) WHERE id = ?1",
        )?
        .execute(params![tenant_id, at])?
        == 1)
}

pub(super) fn console_sessions_valid_after(
    conn: &Connection,
    tenant_id: &str,
) -> StoreResult<Option<Millis>> {
    Ok(conn
        .prepare_cached("SELECT sessions_valid_after FROM tenants WHERE id = ?1")?
        .query_row([tenant_id], |row| row.get(0))
        .optional()?)
}

pub(super) fn follow_link(conn: &Connection, id: &str, expires_at: Millis, now: Millis) -> StoreResult<bool> {
    conn.prepare_cached("DELETE FROM followed_links WHERE expires_at < ?1")?.execute([now])?;
    Ok(conn
        .prepare_cached(
            "INSERT INTO followed_links (id, expires_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![id, expires_at])?
        == 1)
}

pub(super) fn shared_secret(conn: &Connection, name: &str, candidate: &str) -> StoreResult<String> {
    conn.prepare_cached("INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")?
        .execute(params![name, candidate])?;
    Ok(conn
        .prepare_cached("SELECT value FROM secrets WHERE name = ?1")?
        .query_row([name], |row| row.get(0))?)
}
