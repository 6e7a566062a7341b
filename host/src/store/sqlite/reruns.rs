//! Re-runs (see [`crate::store::Rerun`]) on SQLite: the old delivery is superseded and a placeholder
//! plugin error, due now, makes the pipeline run the subscription's current plugin on the event.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{Millis, Rerun, StoreResult, rerun_placeholder_error};

pub(super) fn rerun(conn: &Connection, tenant_id: &str, id: &str, now: Millis) -> StoreResult<Rerun> {
    let found = conn
        .prepare_cached(
            "SELECT d.event_id, d.subscription_id, d.plugin, d.status, d.test, d.lease_until,
                 EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id)
             FROM deliveries d WHERE d.id = ?1 AND d.tenant_id = ?2",
        )?
        .query_row(params![id, tenant_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, Millis>(5)?,
                row.get::<_, bool>(6)?,
            ))
        })
        .optional()?;
    let Some((event_id, subscription_id, plugin, status, test, lease_until, subscribed)) = found else {
        return Ok(Rerun::NotFound);
    };
    if status == "superseded" {
        return Ok(Rerun::AlreadyRerun);
    }
    if !subscribed {
        return Ok(Rerun::SubscriptionGone);
    }
    if lease_until > now {
        return Ok(Rerun::InFlight);
    }
    conn.prepare_cached(
        "UPDATE deliveries SET status = 'superseded', next_attempt_at = NULL, updated_at = ?2
         WHERE id = ?1 AND status IN ('pending', 'failed', 'dead', 'plugin_error')",
    )?
    .execute(params![id, now])?;
    let placeholder = crate::ids::new_time_ordered_id("dlv");
    conn.prepare_cached(
        "INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, plugin, status, error, error_kind,
             next_attempt_at, created_at, updated_at, test, rerun_of)
         VALUES (?1, ?2, ?3, ?4, ?5, 'plugin_error', ?6, 'rerun', ?7, ?7, ?7, ?8, ?9)",
    )?
    .execute(params![
        placeholder,
        tenant_id,
        event_id,
        subscription_id,
        plugin,
        rerun_placeholder_error(),
        now,
        test,
        id
    ])?;
    Ok(Rerun::Started { event_id })
}

pub(super) fn rerun_range(
    conn: &Connection,
    tenant_id: &str,
    subscription_id: &str,
    (from, to): (Millis, Millis),
    include_sent: bool,
    now: Millis,
) -> StoreResult<u64> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM deliveries
             WHERE subscription_id = ?2 AND created_at >= ?3 AND created_at < ?4 AND tenant_id = ?1
               AND lease_until <= ?6
               AND ((status = 'plugin_error' AND next_attempt_at IS NULL)
                    OR (?5 AND status IN ('failed', 'dead')))",
        )?
        .query_map(params![tenant_id, subscription_id, from, to, include_sent, now], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut started = 0;
    for id in ids {
        if matches!(rerun(conn, tenant_id, &id, now)?, Rerun::Started { .. }) {
            started += 1;
        }
    }
    Ok(started)
}
