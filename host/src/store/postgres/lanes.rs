//! A subscription's ordered lanes as shown (see `delivery::lanes`): the keys held by a failing head. The
//! claim keeps the lanes (`claims`).

use deadpool_postgres::Client;

use super::query;
use crate::store::lanes::HOLDING_KEY;
use crate::store::{BlockedHead, LaneStatus, Millis, StoreResult};

pub(super) async fn lane_status(client: &Client, subscription_id: &str) -> StoreResult<LaneStatus> {
    let rows = query(
        client,
        &format!(
            "SELECT count(DISTINCT ordering_key), min(COALESCE(first_attempt_at, created_at)) FROM deliveries
             WHERE subscription_id = $1 AND {HOLDING_KEY}"
        ),
        &[&subscription_id],
    )
    .await?;
    let (blocked_keys, oldest): (i64, Option<Millis>) = (rows[0].try_get(0)?, rows[0].try_get(1)?);
    if blocked_keys == 0 {
        return Ok(LaneStatus::default());
    }
    let heads = query(
        client,
        &format!(
            "SELECT id, event_id, ordering_key FROM deliveries
             WHERE subscription_id = $1 AND {HOLDING_KEY} AND COALESCE(first_attempt_at, created_at) = $2
             LIMIT 1"
        ),
        &[&subscription_id, &oldest],
    )
    .await?;
    let oldest_blocked_head = heads
        .first()
        .map(|row| -> StoreResult<BlockedHead> {
            Ok(BlockedHead {
                delivery_id: row.try_get(0)?,
                event_id: row.try_get(1)?,
                key: row.try_get(2)?,
                since: oldest.unwrap_or_default(),
            })
        })
        .transpose()?;
    let waiting = query(
        client,
        &format!(
            "SELECT count(*) FROM deliveries AS w
             WHERE w.subscription_id = $1 AND w.status = 'pending' AND w.ordering_key IN (
                 SELECT ordering_key FROM deliveries WHERE subscription_id = $1 AND {HOLDING_KEY})"
        ),
        &[&subscription_id],
    )
    .await?;
    Ok(LaneStatus {
        blocked_keys: blocked_keys as u64,
        waiting_behind: waiting[0].try_get::<_, i64>(0)? as u64,
        oldest_blocked_head,
    })
}
