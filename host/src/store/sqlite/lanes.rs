//! A subscription's ordered lanes as shown (see `delivery::lanes`): the keys held by a failing head. The
//! claim keeps the lanes (`deliveries::CLAIM_SQL`).

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::lanes::HOLDING_KEY;
use crate::store::{BlockedHead, LaneStatus, Millis, StoreResult};

pub(super) fn lane_status(conn: &Connection, subscription_id: &str) -> StoreResult<LaneStatus> {
    let (blocked_keys, oldest) = conn
        .prepare_cached(&format!(
            "SELECT count(DISTINCT ordering_key), min(COALESCE(first_attempt_at, created_at)) FROM deliveries
             WHERE subscription_id = ?1 AND {HOLDING_KEY}"
        ))?
        .query_row([subscription_id], |row| Ok((row.get::<_, u64>(0)?, row.get::<_, Option<Millis>>(1)?)))?;
    if blocked_keys == 0 {
        return Ok(LaneStatus::default());
    }
    let oldest_blocked_head = conn
        .prepare_cached(&format!(
            "SELECT id, event_id, ordering_key FROM deliveries
             WHERE subscription_id = ?1 AND {HOLDING_KEY} AND COALESCE(first_attempt_at, created_at) = ?2
             LIMIT 1"
        ))?
        .query_row(params![subscription_id, oldest], |row| {
            Ok(BlockedHead {
                delivery_id: row.get(0)?,
                event_id: row.get(1)?,
                key: row.get(2)?,
                since: oldest.unwrap_or_default(),
            })
        })
        .optional()?;
    let waiting_behind = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM deliveries AS w
             WHERE w.subscription_id = ?1 AND w.status = 'pending' AND w.ordering_key IN (
                 SELECT ordering_key FROM deliveries WHERE subscription_id = ?1 AND {HOLDING_KEY})"
        ))?
        .query_row([subscription_id], |row| row.get(0))?;
    Ok(LaneStatus { blocked_keys, waiting_behind, oldest_blocked_head })
}
