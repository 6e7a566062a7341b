//! Tenants' connections: sealed credentials and what using them did.

use deadpool_postgres::Client;
use tokio_postgres::Row;

use super::{constraint_error, execute, from_json, query, to_json};
use crate::store::{Connection, ConnectionUse, StoreError, StoreResult};

const COLUMNS: &str = "tenant_id, name, kind, hosts, key_id, nonce, sealed, broken_reason, last_error, \
     last_used_at, last_refreshed_at, created_at, updated_at";

fn connection(row: &Row) -> StoreResult<Connection> {
    Ok(Connection {
        tenant_id: row.try_get(0)?,
        name: row.try_get(1)?,
        kind: row.try_get(2)?,
        hosts: from_json(row.try_get(3)?)?,
        key_id: row.try_get(4)?,
        nonce: row.try_get(5)?,
        sealed: row.try_get(6)?,
        broken_reason: row.try_get(7)?,
        last_error: row.try_get(8)?,
        last_used_at: row.try_get(9)?,
        last_refreshed_at: row.try_get(10)?,
        created_at: row.try_get(11)?,
        updated_at: row.try_get(12)?,
    })
}

/// Inserts the connection if its tenant exists: the check and the insert are one statement.
pub(super) async fn create(client: &Client, c: &Connection) -> StoreResult<()> {
    let missing = || format!("tenant {}", c.tenant_id);
    let sql = format!(
        "INSERT INTO connections ({COLUMNS})
         SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::bytea, $8::text, $9::text,
             $10::bigint, $11::bigint, $12::bigint, $13::bigint
         WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1)"
    );
    let inserted = execute_connection(client, &sql, c)
        .await?
        .map_err(constraint_error(|| format!("connection {}", c.name), missing))?;
    if inserted == 0 { Err(StoreError::NotFound(missing())) } else { Ok(()) }
}

pub(super) async fn get(client: &Client, tenant_id: &str, name: &str) -> StoreResult<Option<Connection>> {
    let sql = format!("SELECT {COLUMNS} FROM connections WHERE tenant_id = $1 AND name = $2");
    query(client, &sql, &[&tenant_id, &name]).await?.first().map(connection).transpose()
}

pub(super) async fn list(client: &Client, tenant_id: Option<&str>) -> StoreResult<Vec<Connection>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM connections WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id, name"
    );
    query(client, &sql, &[&tenant_id]).await?.iter().map(connection).collect()
}

pub(super) async fn update(client: &Client, c: &Connection) -> StoreResult<bool> {
    let sql = "UPDATE connections SET kind = $3, hosts = $4, key_id = $5, nonce = $6, sealed = $7,
             broken_reason = $8, last_error = $9, last_used_at = $10, last_refreshed_at = $11,
             created_at = $12, updated_at = $13
         WHERE tenant_id = $1 AND name = $2";
    Ok(execute_connection(client, sql, c).await?? == 1)
}

/// Runs `statement` with a connection's columns as `$1`…`$13`, in `COLUMNS` order (shared by insert and
/// update). The outer error is encoding a column; the inner one is PostgreSQL's.
async fn execute_connection(
    client: &Client,
    statement: &str,
    c: &Connection,
) -> StoreResult<Result<u64, tokio_postgres::Error>> {
    let hosts = to_json(&c.hosts)?;
    Ok(execute(
        client,
        statement,
        &[
            &c.tenant_id,
            &c.name,
            &c.kind,
            &hosts,
            &c.key_id,
            &c.nonce,
            &c.sealed,
            &c.broken_reason,
            &c.last_error,
            &c.last_used_at,
            &c.last_refreshed_at,
            &c.created_at,
            &c.updated_at,
        ],
    )
    .await)
}

pub(super) async fn delete(client: &Client, tenant_id: &str, name: &str) -> StoreResult<bool> {
    let deleted =
        execute(client, "DELETE FROM connections WHERE tenant_id = $1 AND name = $2", &[&tenant_id, &name])
            .await?;
    Ok(deleted == 1)
}

pub(super) async fn record_use(
    client: &Client,
    tenant_id: &str,
    name: &str,
    used: &ConnectionUse,
) -> StoreResult<()> {
    let (key_id, nonce, sealed) = match &used.resealed {
        Some((key_id, nonce, sealed)) => (Some(key_id), Some(nonce), Some(sealed)),
        None => (None, None, None),
    };
    execute(
        client,
        "UPDATE connections SET last_used_at = $3,
             last_refreshed_at = CASE WHEN $4 THEN $3 ELSE last_refreshed_at END,
             last_error = $5, broken_reason = COALESCE($6, broken_reason),
             key_id = COALESCE($7, key_id), nonce = COALESCE($8, nonce), sealed = COALESCE($9, sealed)
         WHERE tenant_id = $1 AND name = $2",
        &[&tenant_id, &name, &used.at, &used.refreshed, &used.error, &used.broken, &key_id, &nonce, &sealed],
    )
    .await?;
    Ok(())
}
