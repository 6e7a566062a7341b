//! Tenants' connections: sealed credentials and what using them did.

use rusqlite::{Connection as Db, OptionalExtension, Row, params};

use super::{catalog, conflict_as, json_column, to_json};
use crate::store::{Connection, ConnectionUse, StoreError, StoreResult};

const COLUMNS: &str = "tenant_id, name, kind, hosts, key_id, nonce, sealed, broken_reason, last_error, \
     last_used_at, last_refreshed_at, created_at, updated_at";

fn connection(row: &Row<'_>) -> rusqlite::Result<Connection> {
    Ok(Connection {
        tenant_id: row.get(0)?,
        name: row.get(1)?,
        kind: row.get(2)?,
        hosts: json_column(row, 3)?,
        key_id: row.get(4)?,
        nonce: row.get(5)?,
        sealed: row.get(6)?,
        broken_reason: row.get(7)?,
        last_error: row.get(8)?,
        last_used_at: row.get(9)?,
        last_refreshed_at: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

pub(super) fn create(db: &Db, c: &Connection) -> StoreResult<()> {
    if !catalog::tenant_exists(db, &c.tenant_id)? {
        return Err(StoreError::NotFound(format!("tenant {}", c.tenant_id)));
    }
    let mut statement = db.prepare_cached(&format!(
        "INSERT INTO connections ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))?;
    execute(&mut statement, c)?.map_err(conflict_as(|| format!("connection {}", c.name)))?;
    Ok(())
}

pub(super) fn get(db: &Db, tenant_id: &str, name: &str) -> StoreResult<Option<Connection>> {
    Ok(db
        .prepare_cached(&format!("SELECT {COLUMNS} FROM connections WHERE tenant_id = ?1 AND name = ?2"))?
        .query_row([tenant_id, name], connection)
        .optional()?)
}

pub(super) fn list(db: &Db, tenant_id: Option<&str>) -> StoreResult<Vec<Connection>> {
    let mut statement = db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM connections WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY tenant_id, name"
    ))?;
    Ok(statement.query_map([tenant_id], connection)?.collect::<Result<_, _>>()?)
}

pub(super) fn update(db: &Db, c: &Connection) -> StoreResult<bool> {
    let mut statement = db.prepare_cached(
        "UPDATE connections SET kind = ?3, hosts = ?4, key_id = ?5, nonce = ?6, sealed = ?7,
             broken_reason = ?8, last_error = ?9, last_used_at = ?10, last_refreshed_at = ?11,
             created_at = ?12, updated_at = ?13
         WHERE tenant_id = ?1 AND name = ?2",
    )?;
    Ok(execute(&mut statement, c)?? == 1)
}

/// Runs `statement` with a connection's columns as `?1`…`?13`, in `COLUMNS` order (shared by insert and
/// update). The outer error is encoding a column; the inner one is SQLite's.
fn execute(
    statement: &mut rusqlite::CachedStatement<'_>,
    c: &Connection,
) -> StoreResult<rusqlite::Result<usize>> {
    Ok(statement.execute(params![
        c.tenant_id,
        c.name,
        c.kind,
        to_json(&c.hosts)?,
        c.key_id,
        c.nonce,
        c.sealed,
        c.broken_reason,
        c.last_error,
        c.last_used_at,
        c.last_refreshed_at,
        c.created_at,
        c.updated_at
    ]))
}

pub(super) fn delete(db: &Db, tenant_id: &str, name: &str) -> StoreResult<bool> {
    Ok(db
        .prepare_cached("DELETE FROM connections WHERE tenant_id = ?1 AND name = ?2")?
        .execute([tenant_id, name])?
        == 1)
}

pub(super) fn record_use(db: &Db, tenant_id: &str, name: &str, used: &ConnectionUse) -> StoreResult<()> {
    db.prepare_cached(
        "UPDATE connections SET last_used_at = ?3,
             last_refreshed_at = CASE WHEN ?4 THEN ?3 ELSE last_refreshed_at END,
             last_error = ?5, broken_reason = COALESCE(?6, broken_reason)
         WHERE tenant_id = ?1 AND name = ?2",
    )?
    .execute(params![tenant_id, name, used.at, used.refreshed, used.error, used.broken])?;
    if let Some((key_id, nonce, sealed)) = &used.resealed {
        db.prepare_cached(
            "UPDATE connections SET key_id = ?3, nonce = ?4, sealed = ?5 WHERE tenant_id = ?1 AND name = ?2",
        )?
        .execute(params![tenant_id, name, key_id, nonce, sealed])?;
    }
    Ok(())
}
