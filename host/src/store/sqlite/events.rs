//! Events: ingest, the claim that hands them to pipeline workers, their completion, and the queue sizes.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{catalog, deliveries, handoff, limit};
use crate::store::handoff::HandOff;
use crate::store::{
    ClaimedDelivery, ClaimedEvent, HandOffTerms, Inserted, Millis, NewEvent, ProcessedEvent, QueueStats,
    StoreResult,
};

pub(super) fn insert(conn: &Connection, events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
    // A batch usually comes from one tenant or a few: look each up once.
    let mut tenants: HashMap<&str, bool> = HashMap::new();
    let mut statement = conn.prepare_cached(
        "INSERT INTO events (tenant_id, id, event_type, event_timestamp, data, received_at, origin, lease_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tenant_id, id) DO NOTHING",
    )?;
    let mut results = Vec::with_capacity(events.len());
    for event in events {
        let known = match tenants.get(event.tenant_id.as_str()) {
            Some(&known) => known,
            None => {
                let known = catalog::tenant_exists(conn, &event.tenant_id)?;
                tenants.insert(&event.tenant_id, known);
                known
            }
        };
        if !known {
            results.push(Inserted::UnknownTenant);
            continue;
        }
        let stored = statement.execute(params![
            event.tenant_id,
            event.id,
            event.event_type,
            event.timestamp,
            event.data_json,
            event.received_at,
            event.origin,
            event.lease_until,
        ])?;
        // The rowid is the event's acceptance order (see `event`).
        results.push(match stored {
            1 => Inserted::New { seq: conn.last_insert_rowid() },
            _ => Inserted::Duplicate,
        });
    }
    Ok(results)
}

/// Leases (`?1`) up to `?3` unprocessed, unleased (at `?2`) events, oldest first, of tenants not in the
/// JSON array `?4`. The inner select walks the `events_unprocessed` index in order; the `UPDATE` and the
/// select are one statement in the writer's transaction, so no two claims can take the same row.
pub(super) const CLAIM_SQL: &str = "UPDATE events SET lease_until = ?1
     WHERE rowid IN (
         SELECT rowid FROM events WHERE processed = 0 AND lease_until <= ?2
             AND tenant_id NOT IN (SELECT value FROM json_each(?4))
         ORDER BY received_at LIMIT ?3
     )
     RETURNING rowid, tenant_id, id, event_type, event_timestamp, data, received_at, rowid, origin";

pub(super) fn claim(
    conn: &Connection,
    max: u32,
    lease_ms: i64,
    now: Millis,
    exclude_tenants_json: &str,
) -> StoreResult<Vec<ClaimedEvent>> {
    let mut statement = conn.prepare_cached(CLAIM_SQL)?;
    let mut claimed = statement
        .query_map(params![now.saturating_add(lease_ms), now, limit(max), exclude_tenants_json], |row| {
            Ok((row.get::<_, i64>(0)?, event(row, 1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // `RETURNING` has no defined order.
    claimed.sort_by_key(|(rowid, event)| (event.received_at, *rowid));
    Ok(claimed.into_iter().map(|(_, event)| event).collect())
}

pub(super) fn complete(conn: &Connection, processed: &[ProcessedEvent]) -> StoreResult<()> {
    complete_handing_off(conn, processed, &HandOffTerms::none(0))?;
    Ok(())
}

/// Completes the events, handing over what `terms` allow (see `store::handoff`): returns those leased.
pub(super) fn complete_handing_off(
    conn: &Connection,
    processed: &[ProcessedEvent],
    terms: &HandOffTerms,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let facts = handoff::facts(conn, &HandOff::wanted(processed, terms), terms)?;
    let mut handoff = HandOff::new(terms, facts);
    let mut mark = conn.prepare_cached(
        "UPDATE events SET processed = 1, lease_until = 0 WHERE tenant_id = ?1 AND id = ?2 AND processed = 0",
    )?;
    for event in processed {
        // Zero rows: another worker completed it after this one's lease ran out; its deliveries are stored.
        if mark.execute([&event.tenant_id, &event.event_id])? == 1 {
            for delivery in &event.deliveries {
                deliveries::insert_leased(conn, delivery, handoff.lease_for(delivery))?;
            }
        }
    }
    Ok(handoff.into_handed())
}

/// Counts over the partial indexes only. A delivery waits from when it is due, not from when it was made: a
/// retry scheduled for later is not late.
pub(super) fn queue_stats(conn: &Connection, now: Millis) -> StoreResult<QueueStats> {
    let (events_pending, oldest_event): (u64, Option<Millis>) = conn
        .prepare_cached("SELECT COUNT(*), MIN(received_at) FROM events WHERE processed = 0")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let (deliveries_pending, oldest_due): (u64, Option<Millis>) = conn
        .prepare_cached(
            "SELECT COUNT(*), MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'failed')",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let oldest = [oldest_event, oldest_due].into_iter().flatten().min();
    Ok(QueueStats {
        events_pending,
        deliveries_pending,
        oldest_pending_age_ms: oldest.map_or(0, |since| now.saturating_sub(since).max(0) as u64),
    })
}

pub(super) fn get(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<Option<ClaimedEvent>> {
    Ok(conn
        .prepare_cached(
            "SELECT tenant_id, id, event_type, event_timestamp, data, received_at, rowid, origin FROM events
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .query_row(params![tenant_id, id], |row| event(row, 0))
        .optional()?)
}

/// An event from the columns `tenant_id, id, event_type, event_timestamp, data, received_at, rowid, origin` of a
/// row, starting at `first`. The rowid is the event's acceptance sequence: it only grows (rows are never
/// vacuumed, and the newest row is never purged while a delivery of it is left).
pub(super) fn event(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ClaimedEvent> {
    Ok(ClaimedEvent {
        tenant_id: row.get(first)?,
        id: row.get(first + 1)?,
        event_type: row.get(first + 2)?,
        timestamp: row.get(first + 3)?,
        data_json: row.get(first + 4)?,
        received_at: row.get(first + 5)?,
        seq: row.get(first + 6)?,
        origin: row.get(first + 7)?,
    })
}
