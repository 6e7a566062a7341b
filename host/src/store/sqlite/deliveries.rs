//! Deliveries and their attempts: the claims that hand them to delivery workers (and transient plugin errors
//! back to the pipeline), recording outcomes, listing, and retrying by hand.

use std::collections::HashMap;

use rusqlite::types::{ToSql, Type};
use rusqlite::{Connection, Row, params, params_from_iter};

use super::{catalog, json_column, limit, optional_json_column, to_json};
use crate::store::lanes::HOLDING_KEY;
use crate::store::pacing::DestinationCandidate;
use crate::store::throttle;
use crate::store::{
    Attempt, AttemptRecord, Budget, ClaimedDelivery, ClaimedEvent, Delivery, DeliveryClaim, DeliveryFilter,
    DeliveryStatus, Millis, NewDelivery, StoreResult, StoredRequest,
};

/// Listing returns this many when asked for 0, and never more than `MAX_LIST`.
const DEFAULT_LIST: u32 = 100;
const MAX_LIST: u32 = 1000;

pub(super) fn insert(conn: &Connection, delivery: &NewDelivery) -> StoreResult<()> {
    insert_leased(conn, delivery, 0)
}

/// Stores `delivery` leased until `lease_until` (0: not leased).
pub(super) fn insert_leased(
    conn: &Connection,
    delivery: &NewDelivery,
    lease_until: Millis,
) -> StoreResult<()> {
    let request = delivery.request.as_ref();
    let headers = request.map(|request| to_json(&request.headers)).transpose()?;
    conn.prepare_cached(
        "INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, plugin, status, request_method,
             request_url, request_headers, request_body, error, next_attempt_at, created_at, updated_at,
             error_kind, logs, ordering_key, ordering_seq, ordering_index, destination, test, rerun_of,
             lease_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
             ?20, ?21, ?22)",
    )?
    .execute(params![
        delivery.id,
        delivery.tenant_id,
        delivery.event_id,
        delivery.subscription_id,
        delivery.plugin,
        delivery.status.as_str(),
        request.map(|request| &request.method),
        request.map(|request| &request.url),
        headers,
        request.map(|request| &request.body),
        delivery.error,
        delivery.next_attempt_at,
        delivery.created_at,
        delivery.error_kind,
        delivery.logs_json,
        delivery.lane.as_ref().map(|lane| &lane.key),
        delivery.lane.as_ref().map(|lane| lane.seq),
        delivery.lane.as_ref().map(|lane| lane.index),
        delivery.destination,
        delivery.test,
        delivery.rerun_of,
        lease_until,
    ])
    .map_err(super::conflict_as(|| format!("delivery {}", delivery.id)))?;
    Ok(())
}

/// Due (at `?1`), unleased deliveries of enabled subscriptions whose endpoint has a free concurrency slot
/// and whose tenant is under its share (`?5`), oldest due first, at most `?2`, each with its subscription's
/// limits and state for [`throttle::plan`] (`?3`: the default concurrency bound; `?4`: a JSON array of the
/// deliveries the claimer has sent, leased but no longer in flight). `CROSS JOIN` keeps SQLite from
/// reordering the join: the walk must follow the `deliveries_due` index. The in-flight counts read only
/// leased rows (`deliveries_in_flight`).
///
/// A delivery whose destination is paused, or whose next send slot is ahead, waits (see `pacing`).
///
/// An ordered delivery (see `delivery::lanes`) is a candidate only as its lane's head — no unfinished
/// delivery before it in its lane (`deliveries_lanes`) — and once no earlier event of its tenant is still
/// going through its plugins (`events_unprocessed_by_tenant`): that event's deliveries may yet join the
/// lane ahead of it. Its place is its event's rowid, then its request's index.
pub(super) const CLAIM_SQL: &str = "WITH busy AS MATERIALIZED (
         SELECT subscription_id, count(*) AS in_flight FROM deliveries
         WHERE lease_until > 0 AND lease_until > ?1 AND status IN ('pending', 'failed')
             AND id NOT IN (SELECT value FROM json_each(?4))
         GROUP BY subscription_id
     ),
     busy_tenants AS MATERIALIZED (
         SELECT s.tenant_id, sum(b.in_flight) AS in_flight
         FROM busy AS b JOIN subscriptions AS s ON s.id = b.subscription_id
         GROUP BY s.tenant_id
     )
     SELECT d.rowid, d.id, d.tenant_id, d.event_id, d.subscription_id,
         d.request_method, d.request_url, d.request_headers, d.request_body, d.attempts,
         s.secret, s.previous_secret, s.previous_secret_expires_at, s.headers,
         d.rate_slot, COALESCE(b.in_flight, 0), COALESCE(s.max_in_flight, ?3), s.rate_limit, r.next_slot_at,
         s.endpoint_url, s.connections, d.ordering_key, d.first_attempt_at, s.ordering_max_hold_secs,
         COALESCE(t.in_flight, 0), d.plugin, d.destination, d.batch_limit, g.requests, g.window_ms,
         g.next_slot_at, d.created_at, s.trace_context
     FROM deliveries AS d CROSS JOIN subscriptions AS s ON s.id = d.subscription_id
         LEFT JOIN busy AS b ON b.subscription_id = d.subscription_id
         LEFT JOIN busy_tenants AS t ON t.tenant_id = d.tenant_id
         LEFT JOIN rate_limit_slots AS r ON r.subscription_id = d.subscription_id
         LEFT JOIN destination_budgets AS g ON g.destination = d.destination
     WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?1 AND d.lease_until <= ?1
         AND d.request_method IS NOT NULL AND s.enabled = 1
         AND d.subscription_id NOT IN (
             SELECT b.subscription_id FROM busy AS b JOIN subscriptions AS s ON s.id = b.subscription_id
             WHERE b.in_flight >= COALESCE(s.max_in_flight, ?3))
         AND d.tenant_id NOT IN (SELECT tenant_id FROM busy_tenants WHERE in_flight >= ?5)
         AND NOT EXISTS (
             SELECT 1 FROM destination_budgets AS w
             WHERE w.destination = d.destination AND (w.paused_until > ?1 OR w.next_slot_at > ?1))
         AND (d.ordering_key IS NULL OR (
             NOT EXISTS (
                 SELECT 1 FROM deliveries AS p
                 WHERE p.subscription_id = d.subscription_id AND p.ordering_key = d.ordering_key
                     AND (p.status IN ('pending', 'failed')
                         OR (p.status = 'plugin_error' AND p.next_attempt_at IS NOT NULL))
                     AND (p.ordering_seq < d.ordering_seq
                         OR (p.ordering_seq = d.ordering_seq AND p.ordering_index < d.ordering_index)))
             AND NOT EXISTS (
                 SELECT 1 FROM events AS e
                 WHERE e.tenant_id = d.tenant_id AND e.processed = 0 AND e.rowid < d.ordering_seq)))
     ORDER BY d.next_attempt_at
     LIMIT ?2";

/// Reads the candidates, plans, and writes the plan: leases, deferrals to rate-limit slots, next slots.
/// The caller's write transaction keeps other claims out meanwhile.
pub(super) fn claim(
    conn: &Connection,
    claim: &DeliveryClaim<'_>,
    sent_json: &str,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let DeliveryClaim {
        limit: max,
        lease_ms,
        now,
        default_max_in_flight,
        max_in_flight_per_tenant,
        merging_plugins,
        default_budget,
        ..
    } = *claim;
    let mut select = conn.prepare_cached(CLAIM_SQL)?;
    let candidates = select
        .query_map(
            params![now, limit(max), default_max_in_flight, sent_json, max_in_flight_per_tenant],
            |row| {
                let previous: Option<String> = row.get(11)?;
                let previous_expires_at: Option<Millis> = row.get(12)?;
                let mut secrets = vec![row.get(10)?];
                // The previous secret signs too while its grace period lasts, so receivers can switch over.
                if previous_expires_at.is_some_and(|expires_at| expires_at > now) {
                    secrets.extend(previous);
                }
                let delivery = ClaimedDelivery {
                    id: row.get(1)?,
                    tenant_id: row.get(2)?,
                    event_id: row.get(3)?,
                    subscription_id: row.get(4)?,
                    request: StoredRequest {
                        method: row.get(5)?,
                        url: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        headers: optional_json_column(row, 7)?.unwrap_or_default(),
                        body: row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
                    },
                    attempts: row.get(9)?,
                    secrets,
                    subscription_headers: json_column(row, 13)?,
                    endpoint_url: row.get(19)?,
                    connections: json_column(row, 20)?,
                    ordering_key: row.get(21)?,
                    first_attempt_at: row.get(22)?,
                    ordering_max_hold_secs: row.get(23)?,
                    plugin: row.get(25)?,
                    destination: row.get(26)?,
                    batch_leader: None,
                    created_at: row.get(31)?,
                    trace_context: row.get(32)?,
                };
                let destination = match &delivery.destination {
                    None => None,
                    Some(name) => {
                        let set = match (row.get::<_, Option<u32>>(28)?, row.get::<_, Option<i64>>(29)?) {
                            (Some(requests), Some(window_ms)) => Some(Budget { requests, window_ms }),
                            _ => None,
                        };
                        Some(DestinationCandidate {
                            destination: name.clone(),
                            budget: set.or_else(|| default_budget(name)),
                            next_slot_at: row.get(30)?,
                            plugin: delivery.plugin.clone(),
                            merges: merging_plugins.contains(&delivery.plugin),
                            batch_limit: row.get(27)?,
                        })
                    }
                };
                let candidate = throttle::Candidate {
                    subscription_id: delivery.subscription_id.clone(),
                    tenant_id: delivery.tenant_id.clone(),
                    tenant_in_flight: row.get(24)?,
                    holds_rate_slot: row.get(14)?,
                    in_flight: row.get(15)?,
                    max_in_flight: row.get(16)?,
                    rate_limit: row.get::<_, Option<u32>>(17)?.map(|rate| rate.max(1)),
                    next_slot_at: row.get(18)?,
                    destination,
                };
                Ok((row.get::<_, i64>(0)?, delivery, candidate))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut handles = Vec::with_capacity(candidates.len());
    let mut deliveries = Vec::with_capacity(candidates.len());
    let mut limits = Vec::with_capacity(candidates.len());
    for (rowid, delivery, candidate) in candidates {
        handles.push(rowid);
        deliveries.push(Some(delivery));
        limits.push(candidate);
    }
    let plan = throttle::plan(&limits, now, max_in_flight_per_tenant);
    let mut defer =
        conn.prepare_cached("UPDATE deliveries SET next_attempt_at = ?1, rate_slot = 1 WHERE rowid = ?2")?;
    for &(index, at) in &plan.defer {
        defer.execute([at, handles[index]])?;
    }
    let mut slot = conn.prepare_cached(
        "INSERT INTO rate_limit_slots (subscription_id, next_slot_at) VALUES (?1, ?2)
         ON CONFLICT (subscription_id) DO UPDATE SET next_slot_at = excluded.next_slot_at",
    )?;
    for (subscription_id, next_slot_at) in &plan.next_slots {
        slot.execute(params![subscription_id, next_slot_at])?;
    }
    let mut destination_slot = conn.prepare_cached(
        "INSERT INTO destination_budgets (destination, next_slot_at) VALUES (?1, ?2)
         ON CONFLICT (destination) DO UPDATE SET next_slot_at = excluded.next_slot_at",
    )?;
    for (destination, next_slot_at) in &plan.destination_slots {
        destination_slot.execute(params![destination, next_slot_at])?;
    }
    lease(conn, plan.lease.iter().map(|&index| handles[index]), now.saturating_add(lease_ms))?;
    throttle::mark_batches(&plan, &mut deliveries);
    Ok(plan.lease.iter().filter_map(|&index| deliveries[index].take()).collect())
}

fn lease(conn: &Connection, rowids: impl Iterator<Item = i64>, until: Millis) -> StoreResult<()> {
    let mut statement =
        conn.prepare_cached("UPDATE deliveries SET lease_until = ?1, rate_slot = 0 WHERE rowid = ?2")?;
    for rowid in rowids {
        statement.execute([until, rowid])?;
    }
    Ok(())
}

/// Due (at `?1`), unleased transient plugin errors of enabled subscriptions with their events, oldest due
/// first, at most `?2`.
pub(super) const CLAIM_PLUGIN_RETRIES_SQL: &str = "SELECT d.rowid, d.id,
         e.tenant_id, e.id, e.event_type, e.event_timestamp, e.data, e.received_at, e.rowid, e.origin
     FROM deliveries AS d CROSS JOIN events AS e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
     WHERE d.status = 'plugin_error' AND d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= ?1
         AND d.lease_until <= ?1
         AND (SELECT enabled AND paused_reason IS NULL FROM subscriptions WHERE id = d.subscription_id) = 1
         AND d.tenant_id NOT IN (SELECT value FROM json_each(?3))
     ORDER BY d.next_attempt_at
     LIMIT ?2";

pub(super) fn claim_plugin_retries(
    conn: &Connection,
    max: u32,
    lease_ms: i64,
    now: Millis,
    exclude_tenants_json: &str,
) -> StoreResult<Vec<(String, ClaimedEvent)>> {
    let mut select = conn.prepare_cached(CLAIM_PLUGIN_RETRIES_SQL)?;
    let claimed = select
        .query_map(params![now, limit(max), exclude_tenants_json], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, super::events::event(row, 2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    lease(conn, claimed.iter().map(|(rowid, _, _)| *rowid), now.saturating_add(lease_ms))?;
    Ok(claimed.into_iter().map(|(_, id, event)| (id, event)).collect())
}

/// Replaces the plugin error with the new run's deliveries. If it is no longer there (another worker's
/// claim, after this one's lease ran out, replaced it first), nothing is stored: that run's deliveries are.
pub(super) fn replace_plugin_retry(
    conn: &Connection,
    delivery_id: &str,
    new: &[NewDelivery],
) -> StoreResult<()> {
    let removed = conn
        .prepare_cached("DELETE FROM deliveries WHERE id = ?1 AND status = 'plugin_error'")?
        .execute([delivery_id])?;
    if removed == 1 {
        // A rolled-back candidate's delivery may have had attempts: they go with it.
        conn.prepare_cached("DELETE FROM attempts WHERE delivery_id = ?1")?.execute([delivery_id])?;
        for delivery in new {
            insert(conn, delivery)?;
        }
    }
    Ok(())
}

pub(super) fn record_attempts(conn: &Connection, records: &[AttemptRecord]) -> StoreResult<()> {
    // The health updates only write when the state changes: a success on a healthy subscription (the
    // common case) costs one index lookup, not a row rewrite.
    let mut healthy = conn.prepare_cached(
        "UPDATE subscriptions SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL",
    )?;
    let mut failing = conn.prepare_cached(
        "UPDATE subscriptions SET failing_since = ?2 WHERE id = ?1 AND failing_since IS NULL",
    )?;
    let mut disable = conn.prepare_cached(
        "UPDATE subscriptions SET enabled = 0, disabled_reason = ?2, updated_at = ?3 WHERE id = ?1",
    )?;
    let mut exists = conn.prepare_cached("SELECT 1 FROM subscriptions WHERE id = ?1")?;
    let mut update = conn.prepare_cached(
        // A failed manual retry goes back to the automatic schedule it interrupted (`resume_at`).
        "UPDATE deliveries SET attempts = attempts + 1,
             status = CASE WHEN resume_at > ?4 AND ?2 IN ('failed', 'dead') THEN 'failed' ELSE ?2 END,
             next_attempt_at = CASE WHEN resume_at > ?4 AND ?2 IN ('failed', 'dead') THEN resume_at ELSE ?3 END,
             resume_at = NULL, lease_until = 0,
             updated_at = ?4, first_attempt_at = COALESCE(first_attempt_at, ?4),
             error = CASE WHEN ?2 = 'succeeded' THEN NULL ELSE COALESCE(?5, error) END,
             batch_id = COALESCE(?6, batch_id), batch_limit = COALESCE(?7, batch_limit)
         WHERE id = ?1",
    )?;
    let mut attempt = conn.prepare_cached(
        "INSERT INTO attempts (delivery_id, at, status_code, latency_ms, response_excerpt, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    // Paced: not an attempt of the delivery's own (its count, status and health stay), only due again.
    let mut paced = conn.prepare_cached(
        "UPDATE deliveries SET next_attempt_at = ?2, lease_until = 0, updated_at = ?3,
             batch_id = COALESCE(?4, batch_id), batch_limit = COALESCE(?5, batch_limit)
         WHERE id = ?1",
    )?;
    for record in records {
        if record.paced {
            let at = record.next_attempt_at.unwrap_or(record.at);
            if paced.execute(params![
                record.delivery_id,
                at,
                record.at,
                record.batch_id,
                record.batch_limit
            ])? == 1
            {
                insert_attempt(&mut attempt, record)?;
            }
            continue;
        }
        let (mut status, mut next_attempt_at) = (record.new_status, record.next_attempt_at);
        // A retry for a subscription deleted meanwhile could never be claimed: give up now.
        if status == DeliveryStatus::Failed && !exists.exists([&record.subscription_id])? {
            (status, next_attempt_at) = (DeliveryStatus::Dead, None);
        }
        let updated = update.execute(params![
            record.delivery_id,
            status.as_str(),
            next_attempt_at,
            record.at,
            record.delivery_error,
            record.batch_id,
            record.batch_limit,
        ])?;
        if updated == 0 {
            continue;
        }
        insert_attempt(&mut attempt, record)?;
        if status == DeliveryStatus::Succeeded {
            healthy.execute([&record.subscription_id])?;
        } else {
            failing.execute(params![record.subscription_id, record.at])?;
        }
        if let Some(reason) = &record.disable_subscription {
            disable.execute(params![record.subscription_id, reason, record.at])?;
            // Its queue would otherwise wait, unclaimable, until someone re-enables it; dead deliveries
            // can be replayed after that.
            catalog::give_up_waiting_deliveries(
                conn,
                &record.subscription_id,
                &format!("subscription disabled: {reason}"),
                record.at,
            )?;
        }
    }
    Ok(())
}

/// Stores a record's attempt with the statement `attempt` (of `record_attempts`).
fn insert_attempt(attempt: &mut rusqlite::CachedStatement<'_>, record: &AttemptRecord) -> StoreResult<()> {
    attempt.execute(params![
        record.delivery_id,
        record.at,
        record.status_code,
        record.latency_ms,
        record.response_excerpt,
        record.error,
    ])?;
    Ok(())
}

const DELIVERY_COLUMNS: &str = "id, tenant_id, event_id, subscription_id, plugin, status, request_method, \
     request_url, request_headers, request_body, error, next_attempt_at, created_at, updated_at, error_kind, \
     logs, ordering_key, destination, batch_id, test, rerun_of, \
     (SELECT e.event_type FROM events e WHERE e.tenant_id = deliveries.tenant_id AND e.id = deliveries.event_id)";

fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let status: String = row.get(5)?;
    let status = DeliveryStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            5,
            Type::Text,
            format!("unknown delivery status {status:?}").into(),
        )
    })?;
    let request = match row.get::<_, Option<String>>(6)? {
        None => None,
        Some(method) => Some(StoredRequest {
            method,
            url: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
            headers: optional_json_column(row, 8)?.unwrap_or_default(),
            body: row.get::<_, Option<Vec<u8>>>(9)?.unwrap_or_default(),
        }),
    };
    Ok(Delivery {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        event_id: row.get(2)?,
        subscription_id: row.get(3)?,
        plugin: row.get(4)?,
        status,
        request,
        error: row.get(10)?,
        error_kind: row.get(14)?,
        logs_json: row.get(15)?,
        next_attempt_at: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        ordering_key: row.get(16)?,
        destination: row.get(17)?,
        batch_id: row.get(18)?,
        test: row.get(19)?,
        rerun_of: row.get(20)?,
        event_type: row.get(21)?,
        attempts: Vec::new(),
    })
}

pub(super) fn list(
    conn: &Connection,
    tenant_id: &str,
    filter: &DeliveryFilter,
) -> StoreResult<Vec<Delivery>> {
    let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant_id = ?1");
    let mut values: Vec<&dyn ToSql> = vec![&tenant_id];
    let status = filter.status.map(DeliveryStatus::as_str);
    for (column, value) in
        [("event_id", filter.event_id.as_ref()), ("subscription_id", filter.subscription_id.as_ref())]
    {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&format!(" AND {column} = ?{}", values.len()));
        }
    }
    if let Some(status) = &status {
        values.push(status);
        sql.push_str(&format!(" AND status = ?{}", values.len()));
    }
    if filter.holding_key {
        sql.push_str(&format!(" AND {HOLDING_KEY}"));
    }
    let count = match filter.limit {
        0 => DEFAULT_LIST,
        count => count.min(MAX_LIST),
    };
    values.push(&count);
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ?{}", values.len()));
    // At most sixteen distinct statements: the cache keeps them all.
    let mut deliveries = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), delivery)?
        .collect::<Result<Vec<_>, _>>()?;
    attach_attempts(conn, &mut deliveries)?;
    Ok(deliveries)
}

pub(super) fn get(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
    let mut found = conn
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1 AND tenant_id = ?2"
        ))?
        .query_map([id, tenant_id], delivery)?
        .collect::<Result<Vec<_>, _>>()?;
    attach_attempts(conn, &mut found)?;
    Ok(found.pop())
}

/// Fills in the attempts of `deliveries` with one query (the ids go in as one JSON array).
fn attach_attempts(conn: &Connection, deliveries: &mut [Delivery]) -> StoreResult<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let ids = to_json(&deliveries.iter().map(|delivery| &delivery.id).collect::<Vec<_>>())?;
    let mut statement = conn.prepare_cached(
        "SELECT delivery_id, at, status_code, latency_ms, response_excerpt, error FROM attempts
         WHERE delivery_id IN (SELECT value FROM json_each(?1))
         ORDER BY delivery_id, at, rowid",
    )?;
    let mut by_delivery: HashMap<String, Vec<Attempt>> = HashMap::new();
    let rows = statement.query_map([ids], |row| {
        Ok((
            row.get::<_, String>(0)?,
            Attempt {
                at: row.get(1)?,
                status_code: row.get(2)?,
                latency_ms: row.get(3)?,
                response_excerpt: row.get(4)?,
                error: row.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (delivery_id, attempt) = row?;
        by_delivery.entry(delivery_id).or_default().push(attempt);
    }
    for delivery in deliveries {
        delivery.attempts = by_delivery.remove(&delivery.id).unwrap_or_default();
    }
    Ok(())
}

/// Due now again, keeping its attempts; `failed` stays `failed`, the others become `pending`. The lease is
/// left alone: an attempt in flight finishes first. A delivery of a deleted subscription could never be
/// claimed, so it is not retried. A `dead` or `succeeded` one leaves its ordered lane (its key went on
/// without it): it is sent on its own, blocking nothing; a `failed` one is still its lane's head.
pub(super) fn retry(conn: &Connection, tenant_id: &str, id: &str, now: Millis) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE deliveries SET status = CASE WHEN status = 'failed' THEN 'failed' ELSE 'pending' END,
                 resume_at = CASE WHEN status = 'failed' THEN next_attempt_at END,
                 next_attempt_at = ?3, error = NULL, updated_at = ?3,
                 ordering_key = CASE WHEN status = 'failed' THEN ordering_key END
             WHERE id = ?1 AND tenant_id = ?2 AND status IN ('failed', 'dead', 'succeeded')
                 AND request_method IS NOT NULL
                 AND EXISTS (SELECT 1 FROM subscriptions WHERE id = deliveries.subscription_id)",
        )?
        .execute(params![id, tenant_id, now])?;
    Ok(changed == 1)
}

pub(super) fn replay(
    conn: &Connection,
    tenant_id: &str,
    subscription_id: &str,
    from: Millis,
    to: Millis,
    now: Millis,
) -> StoreResult<u64> {
    let changed = conn
        .prepare_cached(
            "UPDATE deliveries SET status = CASE WHEN status = 'failed' THEN 'failed' ELSE 'pending' END,
                 next_attempt_at = ?5, error = NULL, updated_at = ?5,
                 ordering_key = CASE WHEN status = 'failed' THEN ordering_key END
             WHERE subscription_id = ?2 AND created_at >= ?3 AND created_at < ?4 AND tenant_id = ?1
                 AND status IN ('dead', 'failed') AND request_method IS NOT NULL
                 AND EXISTS (SELECT 1 FROM subscriptions WHERE id = ?2 AND tenant_id = ?1)",
        )?
        .execute(params![tenant_id, subscription_id, from, to, now])?;
    Ok(changed as u64)
}

pub(super) fn release(conn: &Connection, ids: &[String], due: Millis) -> StoreResult<()> {
    let mut statement =
        conn.prepare_cached("UPDATE deliveries SET lease_until = 0, next_attempt_at = ?2 WHERE id = ?1")?;
    for id in ids {
        statement.execute(params![id, due])?;
    }
    Ok(())
}
