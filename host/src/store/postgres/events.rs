//! Events: ingest, the claim that hands them to pipeline workers, their completion, and the queue sizes.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{Client, GenericClient};

use super::deliveries::{DeliveryArrays, insert_deliveries, map_insert_error};
use super::{Param, limit, query};
use crate::store::{ClaimedEvent, Inserted, Millis, NewEvent, ProcessedEvent, QueueStats, StoreResult};

/// Stores the batch (`$1`–`$8`, one array per column) in order, skipping events of unknown tenants and keys
/// already stored. Returns one row per stored event (its tenant, id and seq) and one per known tenant (its
/// id, and no event id).
pub(super) const INSERT_SQL: &str = "WITH known AS (SELECT id FROM tenants WHERE id = ANY($1)),
     stored AS (
         INSERT INTO events (tenant_id, id, event_type, event_timestamp, data, received_at, origin, lease_until)
         SELECT e.tenant_id, e.id, e.event_type, e.event_timestamp, e.data, e.received_at, e.origin,
             e.lease_until
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                 $8::bigint[])
             WITH ORDINALITY AS e(tenant_id, id, event_type, event_timestamp, data, received_at, origin,
                 lease_until, n)
         WHERE e.tenant_id IN (SELECT id FROM known)
         ORDER BY e.n
         ON CONFLICT (tenant_id, id) DO NOTHING
         RETURNING tenant_id, id, seq
     )
     SELECT tenant_id, id, seq FROM stored
     UNION ALL
     SELECT id, NULL, NULL FROM known";

/// One statement for the whole batch, committed on its own.
pub(super) async fn insert(client: &Client, events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
    let column = |get: fn(&NewEvent) -> &str| events.iter().map(get).collect::<Vec<_>>();
    let received_at: Vec<Millis> = events.iter().map(|event| event.received_at).collect();
    let origin: Vec<Option<&str>> = events.iter().map(|event| event.origin.as_deref()).collect();
    let lease_until: Vec<Millis> = events.iter().map(|event| event.lease_until).collect();
    let rows = query(
        client,
        INSERT_SQL,
        &[
            &column(|e| &e.tenant_id),
            &column(|e| &e.id),
            &column(|e| &e.event_type),
            &column(|e| &e.timestamp),
            &column(|e| &e.data_json),
            &received_at,
            &origin,
            &lease_until,
        ],
    )
    .await?;
    let mut known = HashSet::new();
    let mut stored = HashMap::new();
    for row in rows {
        let tenant_id: String = row.try_get(0)?;
        match row.try_get::<_, Option<String>>(1)? {
            Some(id) => {
                stored.insert((tenant_id, id), row.try_get::<_, i64>(2)?);
            }
            None => {
                known.insert(tenant_id);
            }
        }
    }
    // Within the batch, the first of two events with the same key is the one stored.
    Ok(events
        .iter()
        .map(|event| {
            if !known.contains(&event.tenant_id) {
                Inserted::UnknownTenant
            } else if let Some(seq) = stored.remove(&(event.tenant_id.clone(), event.id.clone())) {
                Inserted::New { seq }
            } else {
                Inserted::Duplicate
            }
        })
        .collect())
}

/// Leases (`$1`) up to `$3` unprocessed, unleased (at `$2`) events, oldest first, of tenants not in `$4`.
/// The inner select walks the
/// `events_unprocessed` index in order, locking the rows it takes and skipping those another claim has
/// locked; the update then finds them by physical address. Both run in one statement, so the locks hold
/// until the leases are written.
pub(super) const CLAIM_SQL: &str = "UPDATE events SET lease_until = $1
     WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM events WHERE NOT processed AND lease_until <= $2 AND tenant_id <> ALL($4::text[])
         ORDER BY received_at LIMIT $3
         FOR UPDATE SKIP LOCKED
     ))
     RETURNING tenant_id, id, event_type, event_timestamp, data, received_at, seq, origin";

pub(super) async fn claim(
    client: &Client,
    max: u32,
    lease_ms: i64,
    now: Millis,
    exclude_tenants: &[String],
) -> StoreResult<Vec<ClaimedEvent>> {
    let rows =
        query(client, CLAIM_SQL, &[&now.saturating_add(lease_ms), &now, &limit(max), &exclude_tenants])
            .await?;
    let mut claimed = rows.iter().map(event).collect::<StoreResult<Vec<_>>>()?;
    // `RETURNING` has no defined order.
    claimed.sort_by_key(|event| event.received_at);
    Ok(claimed)
}

/// Marks the events `$23`/`$24` (tenants, ids) processed and stores the deliveries (`$1`–`$22`) of those
/// that were not already, returning their ids: `$25` says which event, by position, each delivery belongs
/// to. An event already processed (another worker finished it after this one's lease ran out) is left
/// alone: that worker stored its deliveries.
pub(super) const COMPLETE_SQL: &str = concat!(
    "WITH done AS (
         UPDATE events AS e SET processed = TRUE, lease_until = 0
         FROM UNNEST($23::text[], $24::text[]) WITH ORDINALITY AS p(tenant_id, id, n)
         WHERE e.tenant_id = p.tenant_id AND e.id = p.id AND NOT e.processed
         RETURNING p.n
     ) ",
    insert_deliveries!(),
    " WHERE ($25::bigint[])[d.k] IN (SELECT n FROM done) RETURNING id"
);

/// One statement for the whole batch, committed on its own.
pub(super) async fn complete(client: &Client, processed: &[ProcessedEvent]) -> StoreResult<()> {
    complete_leased(client, processed, None).await?;
    Ok(())
}

/// Completes the batch with `client` (a connection, or a transaction), each delivery stored leased until
/// its entry of `leases` (`None`: none leased); returns the ids of the deliveries stored.
pub(super) async fn complete_leased(
    client: &impl GenericClient,
    processed: &[ProcessedEvent],
    leases: Option<Vec<Millis>>,
) -> StoreResult<Vec<String>> {
    let tenants: Vec<&str> = processed.iter().map(|event| event.tenant_id.as_str()).collect();
    let ids: Vec<&str> = processed.iter().map(|event| event.event_id.as_str()).collect();
    let owners: Vec<i64> = processed
        .iter()
        .enumerate()
        .flat_map(|(index, event)| std::iter::repeat_n(index as i64 + 1, event.deliveries.len()))
        .collect();
    let mut deliveries = DeliveryArrays::new(processed.iter().flat_map(|event| &event.deliveries))?;
    if let Some(leases) = leases {
        deliveries = deliveries.leased(leases);
    }
    let mut params = deliveries.params();
    params.extend([&tenants as Param, &ids, &owners]);
    let rows = query(client, COMPLETE_SQL, &params).await.map_err(map_insert_error)?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}

/// Counts over the partial indexes only. A delivery waits from when it is due, not from when it was made: a
/// retry scheduled for later is not late.
pub(super) async fn queue_stats(client: &Client, now: Millis) -> StoreResult<QueueStats> {
    let rows = query(
        client,
        "SELECT e.count, e.oldest, d.count, d.oldest
         FROM (SELECT COUNT(*) AS count, MIN(received_at) AS oldest FROM events WHERE NOT processed) AS e,
             (SELECT COUNT(*) AS count, MIN(next_attempt_at) AS oldest FROM deliveries
              WHERE status IN ('pending', 'failed')) AS d",
        &[],
    )
    .await?;
    let row = rows.first().expect("an aggregate returns one row");
    let events_pending: i64 = row.try_get(0)?;
    let oldest_event: Option<Millis> = row.try_get(1)?;
    let deliveries_pending: i64 = row.try_get(2)?;
    let oldest_due: Option<Millis> = row.try_get(3)?;
    let oldest = [oldest_event, oldest_due].into_iter().flatten().min();
    Ok(QueueStats {
        events_pending: events_pending as u64,
        deliveries_pending: deliveries_pending as u64,
        oldest_pending_age_ms: oldest.map_or(0, |since| now.saturating_sub(since).max(0) as u64),
    })
}

pub(super) async fn get(client: &Client, tenant_id: &str, id: &str) -> StoreResult<Option<ClaimedEvent>> {
    let rows = query(
        client,
        "SELECT tenant_id, id, event_type, event_timestamp, data, received_at, seq, origin FROM events
         WHERE tenant_id = $1 AND id = $2",
        &[&tenant_id, &id],
    )
    .await?;
    rows.first().map(event).transpose()
}

/// An event from a row of `tenant_id, id, event_type, event_timestamp, data, received_at, seq, origin`.
pub(super) fn event(row: &tokio_postgres::Row) -> StoreResult<ClaimedEvent> {
    event_at(row, 0)
}

/// An event from the columns `tenant_id, id, event_type, event_timestamp, data, received_at, seq, origin` of a
/// row, starting at `first`.
pub(super) fn event_at(row: &tokio_postgres::Row, first: usize) -> StoreResult<ClaimedEvent> {
    Ok(ClaimedEvent {
        tenant_id: row.try_get(first)?,
        id: row.try_get(first + 1)?,
        event_type: row.try_get(first + 2)?,
        timestamp: row.try_get(first + 3)?,
        data_json: row.try_get(first + 4)?,
        received_at: row.try_get(first + 5)?,
        seq: row.try_get(first + 6)?,
        origin: row.try_get(first + 7)?,
    })
}
