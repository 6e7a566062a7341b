//! Answers to creates sent with an `Idempotency-Key` (see [`crate::store::Idempotent`]), on SQLite.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{Idempotent, Millis, StoreResult};

pub(super) fn begin(
    conn: &Connection,
    tenant_id: &str,
    key: &str,
    fingerprint: &str,
    now: Millis,
    expired_before: Millis,
) -> StoreResult<Idempotent> {
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2 AND created_at < ?3",
    )?
    .execute(params![tenant_id, key, expired_before])?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id, key) DO NOTHING",
        )?
        .execute(params![tenant_id, key, fingerprint, now])?;
    if inserted == 1 {
        return Ok(Idempotent::New);
    }
    let found = conn
        .prepare_cached(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2",
        )?
        .query_row(params![tenant_id, key], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<u16>>(1)?, row.get::<_, Option<String>>(2)?))
        })
        .optional()?;
    Ok(match found {
        None => Idempotent::InProgress,
        Some((stored, _, _)) if stored != fingerprint => Idempotent::Mismatch,
        Some((_, Some(status), body)) => Idempotent::Answered { status, body: body.unwrap_or_default() },
        Some((_, None, _)) => Idempotent::InProgress,
    })
}

pub(super) fn finish(
    conn: &Connection,
    tenant_id: &str,
    key: &str,
    answer: Option<(u16, String)>,
) -> StoreResult<()> {
    match answer {
        Some((status, body)) => conn
            .prepare_cached(
                "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE tenant_id = ?1 AND key = ?2",
            )?
            .execute(params![tenant_id, key, status, body])?,
        None => conn
            .prepare_cached("DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2")?
            .execute(params![tenant_id, key])?,
    };
    Ok(())
}
