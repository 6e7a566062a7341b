//! A subscription's health and the failure changes to tell (see `store::health`), on PostgreSQL.

use deadpool_postgres::Client;

use super::query;
use crate::store::{FailureChange, LastFailure, Millis, StoreResult, SubscriptionHealth};

pub(super) async fn subscription_health(
    client: &Client,
    subscription_id: &str,
    since: Millis,
) -> StoreResult<SubscriptionHealth> {
    let counts = query(
        client,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE status IN ('failed', 'dead', 'plugin_error')) FROM deliveries
         WHERE subscription_id = $1 AND created_at >= $2",
        &[&subscription_id, &since],
    )
    .await?;
    let (deliveries, failed): (i64, i64) = counts
        .first()
        .map(|row| Ok::<_, tokio_postgres::Error>((row.try_get(0)?, row.try_get(1)?)))
        .transpose()?
        .unwrap_or_default();
    let latest = query(
        client,
        "SELECT status IN ('failed', 'dead', 'plugin_error') FROM deliveries
         WHERE subscription_id = $1 AND created_at >= $2 ORDER BY created_at DESC LIMIT 1",
        &[&subscription_id, &since],
    )
    .await?;
    let latest_failed = latest.first().map(|row| row.try_get::<_, bool>(0)).transpose()?.unwrap_or(false);
    let failure = query(
        client,
        "SELECT id, error, error_kind, updated_at FROM deliveries
         WHERE subscription_id = $1 AND created_at >= $2 AND status IN ('failed', 'dead', 'plugin_error')
         ORDER BY created_at DESC LIMIT 1",
        &[&subscription_id, &since],
    )
    .await?;
    let last_failure = failure
        .first()
        .map(|row| {
            Ok::<_, tokio_postgres::Error>(LastFailure {
                delivery_id: row.try_get(0)?,
                error: row.try_get(1)?,
                error_kind: row.try_get(2)?,
                at: row.try_get(3)?,
            })
        })
        .transpose()?;
    Ok(SubscriptionHealth {
        deliveries: deliveries as u64,
        failed: failed as u64,
        latest_failed,
        last_failure,
    })
}

pub(super) async fn claim_failure_changes(
    client: &Client,
    failing_before: Millis,
    limit: u32,
) -> StoreResult<Vec<FailureChange>> {
    let rows = query(
        client,
        "UPDATE subscriptions SET notified_failing_since = failing_since
         WHERE id IN (
             SELECT id FROM subscriptions
             WHERE notify IS NOT NULL
               AND ((failing_since IS NOT NULL AND failing_since <= $1
                     AND notified_failing_since IS DISTINCT FROM failing_since)
                    OR (failing_since IS NULL AND notified_failing_since IS NOT NULL))
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING tenant_id, id, name, notify, failing_since",
        &[&failing_before, &(limit as i64)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(FailureChange {
                tenant_id: row.try_get(0)?,
                subscription_id: row.try_get(1)?,
                name: row.try_get(2)?,
                notify_json: row.try_get(3)?,
                failing_since: row.try_get(4)?,
            })
        })
        .collect()
}
