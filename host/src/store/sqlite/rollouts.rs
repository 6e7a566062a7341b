//! Rollouts and dry runs in SQLite: a subscription's canary set and cleared with its rollout's row in one
//! transaction, the watcher's queries, the per-version counts, and re-queuing a candidate's failures.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{events, limit};
use crate::store::{
    Canary, ClaimedEvent, DeliveryStatus, DryRunRecord, Millis, Requeued, RolloutEnd, RolloutRecord,
    RolloutState, StoreError, StoreResult, VersionCount,
};

pub(super) fn subscription_events(
    conn: &Connection,
    tenant_id: &str,
    subscription_id: &str,
    (from, to): (Millis, Millis),
    max: u32,
) -> StoreResult<Vec<(Millis, ClaimedEvent)>> {
    let mut statement = conn.prepare_cached(
        "SELECT d.created_at, e.tenant_id, e.id, e.event_type, e.event_timestamp, e.data, e.received_at, e.rowid, e.origin
         FROM deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
         WHERE d.subscription_id = ?1 AND d.tenant_id = ?2 AND d.created_at >= ?3 AND d.created_at < ?4
         ORDER BY d.created_at DESC LIMIT ?5",
    )?;
    let rows = statement.query_map(params![subscription_id, tenant_id, from, to, limit(max)], |row| {
        Ok((row.get(0)?, events::event(row, 1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn start_rollout(
    conn: &Connection,
    rollout: &RolloutRecord,
    pin_version: u32,
    canary: &Canary,
) -> StoreResult<()> {
    let running: Option<Option<String>> = conn
        .prepare_cached("SELECT canary_rollout_id FROM subscriptions WHERE id = ?1 AND tenant_id = ?2")?
        .query_row([&rollout.subscription_id, &rollout.tenant_id], |row| row.get(0))
        .optional()?;
    match running {
        None => return Err(StoreError::NotFound(format!("subscription {}", rollout.subscription_id))),
        Some(Some(running)) => {
            return Err(StoreError::Conflict(format!("a running rollout ({running}) of the subscription")));
        }
        Some(None) => {}
    }
    conn.prepare_cached(
        "INSERT INTO rollouts (id, tenant_id, subscription_id, state, reruns_pending, started_at, ended_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        rollout.id,
        rollout.tenant_id,
        rollout.subscription_id,
        rollout.state.as_str(),
        rollout.reruns_pending,
        rollout.started_at,
        rollout.ended_at,
        rollout.body_json,
    ])?;
    conn.prepare_cached(
        "UPDATE subscriptions SET plugin_version = ?2, canary_rollout_id = ?3, canary_version = ?4,
             canary_percent = ?5, updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        rollout.subscription_id,
        pin_version,
        canary.rollout_id,
        canary.version,
        canary.percent,
        rollout.started_at
    ])?;
    Ok(())
}

pub(super) fn end_rollout(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    end: &RolloutEnd<'_>,
) -> StoreResult<bool> {
    let subscription: Option<String> = conn
        .prepare_cached(
            "UPDATE rollouts SET state = ?3, ended_at = ?4, body = ?5, reruns_pending = ?6
             WHERE id = ?1 AND tenant_id = ?2 AND state = 'running'
             RETURNING subscription_id",
        )?
        .query_row(
            params![id, tenant_id, end.state.as_str(), end.at, end.body_json, end.reruns_pending],
            |row| row.get(0),
        )
        .optional()?;
    let Some(subscription) = subscription else { return Ok(false) };
    conn.prepare_cached(
        "UPDATE subscriptions SET plugin_version = COALESCE(?3, plugin_version), canary_rollout_id = NULL,
             canary_version = NULL, canary_percent = NULL, updated_at = ?4
         WHERE id = ?1 AND canary_rollout_id = ?2",
    )?
    .execute(params![subscription, id, end.pin_version, end.at])?;
    Ok(true)
}

pub(super) fn update_rollout(
    conn: &Connection,
    id: &str,
    body_json: &str,
    reruns_pending: bool,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE rollouts SET body = ?2, reruns_pending = ?3 WHERE id = ?1")?
        .execute(params![id, body_json, reruns_pending])?;
    Ok(())
}

const ROLLOUT_COLUMNS: &str =
    "id, tenant_id, subscription_id, state, reruns_pending, started_at, ended_at, body";

fn rollout(row: &Row<'_>) -> rusqlite::Result<RolloutRecord> {
    let state: String = row.get(3)?;
    Ok(RolloutRecord {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        subscription_id: row.get(2)?,
        state: RolloutState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, state.into())
        })?,
        reruns_pending: row.get(4)?,
        started_at: row.get(5)?,
        ended_at: row.get(6)?,
        body_json: row.get(7)?,
    })
}

pub(super) fn get_rollout(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<RolloutRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE id = ?1 AND tenant_id = ?2"))?
        .query_row([id, tenant_id], rollout)
        .optional()?)
}

pub(super) fn list_rollouts(
    conn: &Connection,
    tenant_id: &str,
    subscription_id: &str,
) -> StoreResult<Vec<RolloutRecord>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE subscription_id = ?1 AND tenant_id = ?2
         ORDER BY started_at DESC, id DESC"
    ))?;
    Ok(statement.query_map([subscription_id, tenant_id], rollout)?.collect::<Result<_, _>>()?)
}

pub(super) fn rollouts_to_watch(conn: &Connection) -> StoreResult<Vec<RolloutRecord>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE state = 'running' OR reruns_pending = 1 ORDER BY started_at"
    ))?;
    Ok(statement.query_map([], rollout)?.collect::<Result<_, _>>()?)
}

pub(super) fn version_counts(
    conn: &Connection,
    subscription_id: &str,
    since: Millis,
) -> StoreResult<Vec<VersionCount>> {
    let mut statement = conn.prepare_cached(
        "SELECT plugin, status, COUNT(DISTINCT event_id) FROM deliveries
         WHERE subscription_id = ?1 AND created_at >= ?2 GROUP BY plugin, status",
    )?;
    let rows = statement.query_map(params![subscription_id, since], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
    })?;
    let mut counts = Vec::new();
    for row in rows {
        let (plugin, status, events) = row?;
        let status = DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("unknown delivery status `{status}`")))?;
        counts.push(VersionCount { plugin, status, events: events as u64 });
    }
    Ok(counts)
}

pub(super) fn requeue_for_rerun(
    conn: &Connection,
    subscription_id: &str,
    plugin: &str,
    since: Millis,
    now: Millis,
    reason: &str,
) -> StoreResult<Requeued> {
    let requeued = conn
        .prepare_cached(
            "UPDATE deliveries SET status = 'plugin_error', error = ?5, error_kind = 'rolled_back',
                 next_attempt_at = ?4, lease_until = 0, updated_at = ?4
             WHERE subscription_id = ?1 AND plugin = ?2 AND created_at >= ?3
               AND status IN ('pending', 'failed', 'dead', 'plugin_error')
               AND NOT (status = 'plugin_error' AND error_kind IS 'rolled_back')
               AND lease_until <= ?4",
        )?
        .execute(params![subscription_id, plugin, since, now, reason])?;
    let leased: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM deliveries
             WHERE subscription_id = ?1 AND plugin = ?2 AND created_at >= ?3
               AND status IN ('pending', 'failed', 'dead', 'plugin_error') AND lease_until > ?4",
        )?
        .query_row(params![subscription_id, plugin, since, now], |row| row.get(0))?;
    Ok(Requeued { requeued: requeued as u64, leased: leased as u64 })
}

pub(super) fn save_dry_run(conn: &Connection, dry_run: &DryRunRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO dry_runs (id, tenant_id, subscription_id, status, body, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        dry_run.id,
        dry_run.tenant_id,
        dry_run.subscription_id,
        dry_run.status,
        dry_run.body_json,
        dry_run.created_at,
        dry_run.updated_at,
    ])?;
    Ok(())
}

pub(super) fn get_dry_run(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<Option<DryRunRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, tenant_id, subscription_id, status, body, created_at, updated_at FROM dry_runs
             WHERE id = ?1 AND tenant_id = ?2",
        )?
        .query_row([id, tenant_id], |row| {
            Ok(DryRunRecord {
                id: row.get(0)?,
                tenant_id: row.get(1)?,
                subscription_id: row.get(2)?,
                status: row.get(3)?,
                body_json: row.get(4)?,
                created_at: row.get(5)?,
                updated_at: row.get(6)?,
            })
        })
        .optional()?)
}
