//! Answers to creates sent with an `Idempotency-Key` (see [`crate::store::Idempotent`]), on PostgreSQL.

use deadpool_postgres::Client;

use super::{execute, query};
use crate::store::{Idempotent, Millis, StoreResult};

pub(super) async fn begin(
    client: &Client,
    tenant_id: &str,
    key: &str,
    fingerprint: &str,
    now: Millis,
    expired_before: Millis,
) -> StoreResult<Idempotent> {
    execute(
        client,
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < $3",
        &[&tenant_id, &key, &expired_before],
    )
    .await?;
    let inserted = execute(
        client,
        "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, key) DO NOTHING",
        &[&tenant_id, &key, &fingerprint, &now],
    )
    .await?;
    if inserted == 1 {
        return Ok(Idempotent::New);
    }
    let rows = query(
        client,
        "SELECT fingerprint, status, body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
        &[&tenant_id, &key],
    )
    .await?;
    let Some(row) = rows.first() else { return Ok(Idempotent::InProgress) };
    let (stored, status, body): (String, Option<i32>, Option<String>) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    Ok(match status {
        _ if stored != fingerprint => Idempotent::Mismatch,
        Some(status) => Idempotent::Answered { status: status as u16, body: body.unwrap_or_default() },
        None => Idempotent::InProgress,
    })
}

pub(super) async fn finish(
    client: &Client,
    tenant_id: &str,
    key: &str,
    answer: Option<(u16, String)>,
) -> StoreResult<()> {
    match answer {
        Some((status, body)) => {
            execute(
                client,
                "UPDATE idempotency_keys SET status = $3, body = $4 WHERE tenant_id = $1 AND key = $2",
                &[&tenant_id, &key, &(status as i32), &body],
            )
            .await?
        }
        None => {
            execute(
                client,
                "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
                &[&tenant_id, &key],
            )
            .await?
        }
    };
    Ok(())
}
