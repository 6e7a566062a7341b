//! The retention purge for PostgreSQL: finished deliveries older than the cut-off, their attempts, and the
//! processed events left without deliveries, a bounded batch per statement so no lock is held long.

use crate::store::{Millis, StoreResult};

/// Deletes a batch of finished deliveries (`$1` the cut-off, `$2` the batch size) and their attempts,
/// returning how many rows went. It finds them tenant by tenant through `deliveries_by_tenant` (a delivery
/// last updated before the cut-off was made before it); the lateral join keeps that walk in the generic
/// plan too, where a plain `tenant_id IN (SELECT id FROM tenants)` gets a sequential scan of every delivery.
pub(super) const PURGE_DELIVERIES_SQL: &str = "WITH doomed AS (
         SELECT d.id FROM tenants t CROSS JOIN LATERAL (
             SELECT id FROM deliveries
             WHERE tenant_id = t.id AND created_at < $1
               AND (status IN ('succeeded', 'skipped', 'dead', 'superseded')
                OR (status = 'plugin_error' AND next_attempt_at IS NULL))
               AND updated_at < $1
             LIMIT $2 FOR UPDATE SKIP LOCKED) d
         LIMIT $2),
     gone_attempts AS (DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM doomed) RETURNING 1),
     gone_deliveries AS (DELETE FROM deliveries WHERE id IN (SELECT id FROM doomed) RETURNING 1)
     SELECT (SELECT count(*) FROM gone_attempts) + (SELECT count(*) FROM gone_deliveries)";

/// Deletes up to `batch` finished deliveries (and their attempts) last updated before `older_than`, then up
/// to `batch` processed events received before it that have no delivery left, dry runs last updated
/// before it, and rolled-back candidates' failures kept before it. Returns the rows deleted.
pub(super) async fn purge(
    client: &deadpool_postgres::Client,
    older_than: Millis,
    batch: u32,
) -> StoreResult<u64> {
    let deliveries = client.prepare_cached(PURGE_DELIVERIES_SQL).await?;
    let deleted: i64 = client.query_one(&deliveries, &[&older_than, &i64::from(batch)]).await?.get(0);
    let deleted = deleted as u64;
    let events = client
        .prepare_cached(
            "DELETE FROM events WHERE (tenant_id, id) IN (
                 SELECT e.tenant_id, e.id FROM events e
                 WHERE e.processed AND e.received_at < $1
                   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.tenant_id = e.tenant_id)
                 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    let deleted_events = client.execute(&events, &[&older_than, &i64::from(batch)]).await?;
    let dry_runs = client
        .prepare_cached(
            "DELETE FROM dry_runs WHERE id IN (SELECT id FROM dry_runs WHERE updated_at < $1 LIMIT $2)",
        )
        .await?;
    let deleted_dry_runs = client.execute(&dry_runs, &[&older_than, &i64::from(batch)]).await?;
    let failures = client
        .prepare_cached(
            "DELETE FROM rollout_failures WHERE (rollout_id, delivery_id) IN
                 (SELECT rollout_id, delivery_id FROM rollout_failures WHERE kept_at < $1 LIMIT $2)",
        )
        .await?;
    let deleted_failures = client.execute(&failures, &[&older_than, &i64::from(batch)]).await?;
    Ok(deleted + deleted_events + deleted_dry_runs + deleted_failures)
}
