//! The retention purge for SQLite: finished deliveries older than the cut-off, their attempts, and the
//! processed events left without deliveries, a bounded batch per transaction so no lock is held long.

use rusqlite::{Connection, params};

use crate::store::{Millis, StoreResult};

/// Picks the purge's batch of finished deliveries (`?1` the cut-off, `?2` the batch size) tenant by tenant
/// through `deliveries_by_tenant`: a delivery last updated before the cut-off was made before it.
pub(super) const PURGE_BATCH_SQL: &str = "INSERT INTO purge_batch (id)
     SELECT id FROM deliveries
     WHERE tenant_id IN (SELECT id FROM tenants) AND created_at < ?1
       AND (status IN ('succeeded', 'skipped', 'dead', 'superseded')
                OR (status = 'plugin_error' AND next_attempt_at IS NULL))
       AND updated_at < ?1
     LIMIT ?2";

/// Deletes up to `batch` finished deliveries (and their attempts) last updated before `older_than`, then up
/// to `batch` processed events received before it that have no delivery left, dry runs last updated
/// before it, and rolled-back candidates' failures kept before it. Returns the rows deleted.
pub(super) fn purge(tx: &Connection, older_than: Millis, batch: u32) -> StoreResult<u64> {
    tx.execute("CREATE TEMP TABLE IF NOT EXISTS purge_batch (id TEXT PRIMARY KEY) WITHOUT ROWID", [])?;
    tx.execute("DELETE FROM purge_batch", [])?;
    tx.prepare_cached(PURGE_BATCH_SQL)?.execute(params![older_than, batch])?;
    let attempts =
        tx.execute("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM purge_batch)", [])?;
    let deliveries = tx.execute("DELETE FROM deliveries WHERE id IN (SELECT id FROM purge_batch)", [])?;
    let events = tx.prepare_cached(
        "DELETE FROM events WHERE rowid IN (
             SELECT e.rowid FROM events e
             WHERE e.processed = 1 AND e.received_at < ?1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.tenant_id = e.tenant_id)
             LIMIT ?2)",
    )?
    .execute(params![older_than, batch])?;
    let dry_runs = tx
        .prepare_cached(
            "DELETE FROM dry_runs WHERE id IN (SELECT id FROM dry_runs WHERE updated_at < ?1 LIMIT ?2)",
        )?
        .execute(params![older_than, batch])?;
    let failures = tx
        .prepare_cached(
            "DELETE FROM rollout_failures WHERE rowid IN
                 (SELECT rowid FROM rollout_failures WHERE kept_at < ?1 LIMIT ?2)",
        )?
        .execute(params![older_than, batch])?;
    Ok((attempts + deliveries + events + dry_runs + failures) as u64)
}
