//! Destination budgets (see `delivery::budgets`): pauses a destination asked for, the budget set for
//! it, and what is shown of each. The claim reads and writes its send slots (`deliveries::claim`).

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{Budget, DestinationState, Millis, StoreResult};

pub(super) fn pause_destination(
    conn: &Connection,
    destination: &str,
    until: Millis,
    reason: &str,
    backoff_ms: Option<i64>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO destination_budgets (destination, paused_until, pause_reason, backoff_ms)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (destination) DO UPDATE SET
             paused_until = max(COALESCE(destination_budgets.paused_until, 0), excluded.paused_until),
             pause_reason = excluded.pause_reason,
             backoff_ms = COALESCE(excluded.backoff_ms, destination_budgets.backoff_ms)",
    )?
    .execute(params![destination, until, reason, backoff_ms])?;
    Ok(())
}

pub(super) fn destination_backoff(
    conn: &Connection,
    destination: &str,
) -> StoreResult<Option<(i64, Millis)>> {
    Ok(conn
        .prepare_cached(
            "SELECT backoff_ms, paused_until FROM destination_budgets
             WHERE destination = ?1 AND backoff_ms IS NOT NULL AND paused_until IS NOT NULL",
        )?
        .query_row([destination], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

pub(super) fn set_destination_budget(
    conn: &Connection,
    destinations: &[String],
    budget: Option<Budget>,
) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO destination_budgets (destination, requests, window_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (destination) DO UPDATE SET requests = excluded.requests, window_ms = excluded.window_ms",
    )?;
    for destination in destinations {
        statement.execute(params![destination, budget.map(|b| b.requests), budget.map(|b| b.window_ms)])?;
    }
    Ok(())
}

pub(super) fn destination_states(conn: &Connection, tenant_id: &str) -> StoreResult<Vec<DestinationState>> {
    let prefix = format!("{tenant_id} ");
    let rows = conn
        .prepare_cached(
            "SELECT destination, requests, window_ms, next_slot_at, paused_until, pause_reason
             FROM destination_budgets WHERE substr(destination, 1, length(?1)) = ?1 ORDER BY destination",
        )?
        .query_map([&prefix], |row| {
            let budget = match (row.get::<_, Option<u32>>(1)?, row.get::<_, Option<i64>>(2)?) {
                (Some(requests), Some(window_ms)) => Some(Budget { requests, window_ms }),
                _ => None,
            };
            Ok(DestinationState {
                destination: row.get(0)?,
                budget,
                next_slot_at: row.get::<_, Option<f64>>(3)?.map(|at| at.ceil() as Millis),
                paused_until: row.get(4)?,
                pause_reason: row.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
