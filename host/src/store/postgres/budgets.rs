//! Destination budgets (see `delivery::budgets`): pauses a destination asked for, the budget set for
//! it, and what is shown of each. The claim reads and writes its send slots (`claims`).

use deadpool_postgres::Client;

use super::query;
use crate::store::{Budget, DestinationState, Millis, StoreResult};

pub(super) async fn pause_destination(
    client: &Client,
    destination: &str,
    until: Millis,
    reason: &str,
    backoff_ms: Option<i64>,
) -> StoreResult<()> {
    super::execute(
        client,
        "INSERT INTO destination_budgets (destination, paused_until, pause_reason, backoff_ms)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (destination) DO UPDATE SET
             paused_until = GREATEST(COALESCE(destination_budgets.paused_until, 0), EXCLUDED.paused_until),
             pause_reason = EXCLUDED.pause_reason,
             backoff_ms = COALESCE(EXCLUDED.backoff_ms, destination_budgets.backoff_ms)",
        &[&destination, &until, &reason, &backoff_ms],
    )
    .await?;
    Ok(())
}

pub(super) async fn destination_backoff(
    client: &Client,
    destination: &str,
) -> StoreResult<Option<(i64, Millis)>> {
    let rows = query(
        client,
        "SELECT backoff_ms, paused_until FROM destination_budgets
         WHERE destination = $1 AND backoff_ms IS NOT NULL AND paused_until IS NOT NULL",
        &[&destination],
    )
    .await?;
    rows.first().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
}

pub(super) async fn set_destination_budget(
    client: &Client,
    destinations: &[String],
    budget: Option<Budget>,
) -> StoreResult<()> {
    let requests = budget.map(|b| b.requests.min(i32::MAX as u32) as i32);
    let window_ms = budget.map(|b| b.window_ms);
    super::execute(
        client,
        "INSERT INTO destination_budgets (destination, requests, window_ms)
         SELECT unnest($1::text[]), $2::integer, $3::bigint
         ON CONFLICT (destination) DO UPDATE SET requests = EXCLUDED.requests, window_ms = EXCLUDED.window_ms",
        &[&destinations, &requests, &window_ms],
    )
    .await?;
    Ok(())
}

pub(super) async fn destination_states(
    client: &Client,
    tenant_id: &str,
) -> StoreResult<Vec<DestinationState>> {
    let prefix = format!("{tenant_id} ");
    let rows = query(
        client,
        "SELECT destination, requests, window_ms, next_slot_at, paused_until, pause_reason
         FROM destination_budgets WHERE left(destination, length($1)) = $1 ORDER BY destination",
        &[&prefix],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let budget = match (row.try_get::<_, Option<i32>>(1)?, row.try_get::<_, Option<i64>>(2)?) {
                (Some(requests), Some(window_ms)) => {
                    Some(Budget { requests: requests.max(0) as u32, window_ms })
                }
                _ => None,
            };
            Ok(DestinationState {
                destination: row.try_get(0)?,
                budget,
                next_slot_at: row.try_get::<_, Option<f64>>(3)?.map(|at| at.ceil() as Millis),
                paused_until: row.try_get(4)?,
                pause_reason: row.try_get(5)?,
            })
        })
        .collect()
}
