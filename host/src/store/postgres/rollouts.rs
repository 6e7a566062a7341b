//! Rollouts and dry runs in PostgreSQL: a subscription's canary set and cleared with its rollout's row in
//! one transaction, the watcher's queries, the per-version counts, and re-queuing a candidate's failures.

use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;

use super::{events, execute, limit, query};
use crate::store::{
    Canary, ClaimedEvent, DeliveryStatus, DryRunRecord, Millis, Requeued, RolloutEnd, RolloutRecord,
    RolloutState, StoreError, StoreResult, VersionCount,
};

pub(super) async fn subscription_events(
    client: &Client,
    tenant_id: &str,
    subscription_id: &str,
    (from, to): (Millis, Millis),
    max: u32,
) -> StoreResult<Vec<(Millis, ClaimedEvent)>> {
    let rows = query(
        client,
        "SELECT e.tenant_id, e.id, e.event_type, e.event_timestamp, e.data, e.received_at, e.seq, e.origin, d.created_at
         FROM deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
         WHERE d.subscription_id = $1 AND d.tenant_id = $2 AND d.created_at >= $3 AND d.created_at < $4
         ORDER BY d.created_at DESC LIMIT $5",
        &[&subscription_id, &tenant_id, &from, &to, &limit(max)],
    )
    .await?;
    rows.iter().map(|row| Ok((row.try_get(8)?, events::event(row)?))).collect()
}

pub(super) async fn start_rollout(
    client: &mut Client,
    rollout: &RolloutRecord,
    pin_version: u32,
    canary: &Canary,
) -> StoreResult<()> {
    let tx = client.transaction().await?;
    let running = query(
        &tx,
        "SELECT canary_rollout_id FROM subscriptions WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
        &[&rollout.subscription_id, &rollout.tenant_id],
    )
    .await?;
    match running.first().map(|row| row.try_get::<_, Option<String>>(0)).transpose()? {
        None => return Err(StoreError::NotFound(format!("subscription {}", rollout.subscription_id))),
        Some(Some(running)) => {
            return Err(StoreError::Conflict(format!("a running rollout ({running}) of the subscription")));
        }
        Some(None) => {}
    }
    execute(
        &tx,
        "INSERT INTO rollouts (id, tenant_id, subscription_id, state, reruns_pending, started_at, ended_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &rollout.id,
            &rollout.tenant_id,
            &rollout.subscription_id,
            &rollout.state.as_str(),
            &rollout.reruns_pending,
            &rollout.started_at,
            &rollout.ended_at,
            &rollout.body_json,
        ],
    )
    .await?;
    execute(
        &tx,
        "UPDATE subscriptions SET plugin_version = $2, canary_rollout_id = $3, canary_version = $4,
             canary_percent = $5, updated_at = $6
         WHERE id = $1",
        &[
            &rollout.subscription_id,
            &(pin_version as i32),
            &canary.rollout_id,
            &(canary.version as i32),
            &i32::from(canary.percent),
            &rollout.started_at,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn end_rollout(
    client: &mut Client,
    tenant_id: &str,
    id: &str,
    end: &RolloutEnd<'_>,
) -> StoreResult<bool> {
    let tx = client.transaction().await?;
    let ended = query(
        &tx,
        "UPDATE rollouts SET state = $3, ended_at = $4, body = $5, reruns_pending = $6
         WHERE id = $1 AND tenant_id = $2 AND state = 'running'
         RETURNING subscription_id",
        &[&id, &tenant_id, &end.state.as_str(), &end.at, &end.body_json, &end.reruns_pending],
    )
    .await?;
    let Some(row) = ended.first() else { return Ok(false) };
    let subscription: String = row.try_get(0)?;
    execute(
        &tx,
        "UPDATE subscriptions SET plugin_version = COALESCE($3, plugin_version), canary_rollout_id = NULL,
             canary_version = NULL, canary_percent = NULL, updated_at = $4
         WHERE id = $1 AND canary_rollout_id = $2",
        &[&subscription, &id, &end.pin_version.map(|v| v as i32), &end.at],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn update_rollout(
    client: &Client,
    id: &str,
    body_json: &str,
    reruns_pending: bool,
) -> StoreResult<()> {
    execute(
        client,
        "UPDATE rollouts SET body = $2, reruns_pending = $3 WHERE id = $1",
        &[&id, &body_json, &reruns_pending],
    )
    .await?;
    Ok(())
}

const ROLLOUT_COLUMNS: &str =
    "id, tenant_id, subscription_id, state, reruns_pending, started_at, ended_at, body";

fn rollout(row: &Row) -> StoreResult<RolloutRecord> {
    let state: String = row.try_get(3)?;
    Ok(RolloutRecord {
        id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        subscription_id: row.try_get(2)?,
        state: RolloutState::parse(&state)
            .ok_or_else(|| StoreError::Database(format!("unknown rollout state `{state}`")))?,
        reruns_pending: row.try_get(4)?,
        started_at: row.try_get(5)?,
        ended_at: row.try_get(6)?,
        body_json: row.try_get(7)?,
    })
}

pub(super) async fn get_rollout(
    client: &Client,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<RolloutRecord>> {
    let rows = query(
        client,
        &format!("SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE id = $1 AND tenant_id = $2"),
        &[&id, &tenant_id],
    )
    .await?;
    rows.first().map(rollout).transpose()
}

pub(super) async fn list_rollouts(
    client: &Client,
    tenant_id: &str,
    subscription_id: &str,
) -> StoreResult<Vec<RolloutRecord>> {
    let rows = query(
        client,
        &format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE subscription_id = $1 AND tenant_id = $2
             ORDER BY started_at DESC, id DESC"
        ),
        &[&subscription_id, &tenant_id],
    )
    .await?;
    rows.iter().map(rollout).collect()
}

pub(super) async fn rollouts_to_watch(client: &Client) -> StoreResult<Vec<RolloutRecord>> {
    let rows = query(
        client,
        &format!(
            "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE state = 'running' OR reruns_pending ORDER BY started_at"
        ),
        &[],
    )
    .await?;
    rows.iter().map(rollout).collect()
}

pub(super) async fn version_counts(
    client: &Client,
    subscription_id: &str,
    since: Millis,
) -> StoreResult<Vec<VersionCount>> {
    let rows = query(
        client,
        "SELECT plugin, status, COUNT(DISTINCT event_id) FROM deliveries
         WHERE subscription_id = $1 AND created_at >= $2 GROUP BY plugin, status",
        &[&subscription_id, &since],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let status: &str = row.try_get(1)?;
            Ok(VersionCount {
                plugin: row.try_get(0)?,
                status: DeliveryStatus::parse(status)
                    .ok_or_else(|| StoreError::Database(format!("unknown delivery status `{status}`")))?,
                events: row.try_get::<_, i64>(2)? as u64,
            })
        })
        .collect()
}

pub(super) async fn requeue_for_rerun(
    client: &impl GenericClient,
    subscription_id: &str,
    plugin: &str,
    since: Millis,
    now: Millis,
    reason: &str,
) -> StoreResult<Requeued> {
    let requeued = execute(
        client,
        "UPDATE deliveries SET status = 'plugin_error', error = $5, error_kind = 'rolled_back',
             next_attempt_at = $4, lease_until = 0, updated_at = $4
         WHERE subscription_id = $1 AND plugin = $2 AND created_at >= $3
           AND status IN ('pending', 'failed', 'dead', 'plugin_error')
           AND NOT (status = 'plugin_error' AND error_kind IS NOT DISTINCT FROM 'rolled_back')
           AND lease_until <= $4",
        &[&subscription_id, &plugin, &since, &now, &reason],
    )
    .await?;
    let leased = query(
        client,
        "SELECT COUNT(*) FROM deliveries
         WHERE subscription_id = $1 AND plugin = $2 AND created_at >= $3
           AND status IN ('pending', 'failed', 'dead', 'plugin_error') AND lease_until > $4",
        &[&subscription_id, &plugin, &since, &now],
    )
    .await?;
    let leased: i64 = leased[0].try_get(0)?;
    Ok(Requeued { requeued, leased: leased as u64 })
}

pub(super) async fn save_dry_run(client: &Client, dry_run: &DryRunRecord) -> StoreResult<()> {
    execute(
        client,
        "INSERT INTO dry_runs (id, tenant_id, subscription_id, status, body, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body,
             updated_at = excluded.updated_at",
        &[
            &dry_run.id,
            &dry_run.tenant_id,
            &dry_run.subscription_id,
            &dry_run.status,
            &dry_run.body_json,
            &dry_run.created_at,
            &dry_run.updated_at,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn get_dry_run(
    client: &Client,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<DryRunRecord>> {
    let rows = query(
        client,
        "SELECT id, tenant_id, subscription_id, status, body, created_at, updated_at FROM dry_runs
         WHERE id = $1 AND tenant_id = $2",
        &[&id, &tenant_id],
    )
    .await?;
    rows.first()
        .map(|row| {
            Ok(DryRunRecord {
                id: row.try_get(0)?,
                tenant_id: row.try_get(1)?,
                subscription_id: row.try_get(2)?,
                status: row.try_get(3)?,
                body_json: row.try_get(4)?,
                created_at: row.try_get(5)?,
                updated_at: row.try_get(6)?,
            })
        })
        .transpose()
}
