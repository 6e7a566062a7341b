//! A subscription's health and the failure changes to tell (see `store::health`), on SQLite.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{FailureChange, LastFailure, Millis, StoreResult, SubscriptionHealth};

pub(super) fn subscription_health(
    conn: &Connection,
    subscription_id: &str,
    since: Millis,
) -> StoreResult<SubscriptionHealth> {
    let (deliveries, failed): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(status IN ('failed', 'dead', 'plugin_error')), 0) FROM deliveries
             WHERE subscription_id = ?1 AND created_at >= ?2",
        )?
        .query_row(params![subscription_id, since], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let latest_failed: bool = conn
        .prepare_cached(
            "SELECT status IN ('failed', 'dead', 'plugin_error') FROM deliveries
             WHERE subscription_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC LIMIT 1",
        )?
        .query_row(params![subscription_id, since], |row| row.get(0))
        .optional()?
        .unwrap_or(false);
    let last_failure = conn
        .prepare_cached(
            "SELECT id, error, error_kind, updated_at FROM deliveries
             WHERE subscription_id = ?1 AND created_at >= ?2 AND status IN ('failed', 'dead', 'plugin_error')
             ORDER BY created_at DESC LIMIT 1",
        )?
        .query_row(params![subscription_id, since], |row| {
            Ok(LastFailure {
                delivery_id: row.get(0)?,
                error: row.get(1)?,
                error_kind: row.get(2)?,
                at: row.get(3)?,
            })
        })
        .optional()?;
    Ok(SubscriptionHealth {
        deliveries: deliveries as u64,
        failed: failed as u64,
        latest_failed,
        last_failure,
    })
}

pub(super) fn claim_failure_changes(
    conn: &Connection,
    failing_before: Millis,
    limit: u32,
) -> StoreResult<Vec<FailureChange>> {
    let mut statement = conn.prepare_cached(
        "UPDATE subscriptions SET notified_failing_since = failing_since
         WHERE id IN (
             SELECT id FROM subscriptions
             WHERE notify IS NOT NULL
               AND ((failing_since IS NOT NULL AND failing_since <= ?1
                     AND (notified_failing_since IS NULL OR notified_failing_since <> failing_since))
                    OR (failing_since IS NULL AND notified_failing_since IS NOT NULL))
             LIMIT ?2)
         RETURNING tenant_id, id, name, notify, failing_since",
    )?;
    let rows = statement.query_map(params![failing_before, limit], |row| {
        Ok(FailureChange {
            tenant_id: row.get(0)?,
            subscription_id: row.get(1)?,
            name: row.get(2)?,
            notify_json: row.get(3)?,
            failing_since: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
