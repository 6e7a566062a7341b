//! The delivery claim: which due deliveries a worker may send now, keeping every endpoint's concurrency
//! bound and rate limit across all instances (the decision is `store::throttle`'s), in one transaction
//! under a per-schema lock.

use deadpool_postgres::Client;
use tokio_postgres::Row;

use super::deliveries::optional_json;
use super::{Param, from_json, limit, query};
use crate::store::pacing::DestinationCandidate;
use crate::store::throttle;
use crate::store::{Budget, ClaimedDelivery, DeliveryClaim, Millis, StoreResult, StoredRequest};

/// Serializes delivery claims (per schema) from reading the candidates to writing the leases, so that the
/// in-flight counts and rate-limit slots a claim reads cannot change under it. A claim holds it for two
/// short statements.
pub(super) const CLAIM_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('gancho delivery claims ' || current_schema(), 0))";

/// Up to `$2` due (at `$1`), unleased deliveries of enabled subscriptions whose endpoint has a free
/// concurrency slot and whose tenant is under its share (`$5`), oldest due first, locked, each with its
/// subscription's limits and state for [`throttle::plan`] (`$3`: the default concurrency bound; `$4`: the
/// deliveries the claimer has sent, leased but no longer in flight). The walk follows the `deliveries_due`
/// index, skipping rows another transaction has locked; the subscription check is a subquery per row rather
/// than a join, so that the planner has one table to walk in index order whatever it guesses about the
/// join. The in-flight counts read only leased rows (the `deliveries_in_flight` index).
///
/// A delivery whose destination is paused, or whose next send slot is ahead, waits (see `pacing`).
///
/// An ordered delivery (see `delivery::lanes`) is a candidate only as its lane's head — no unfinished
/// delivery before it in its lane (`deliveries_lanes`) — and once no earlier event of its tenant is still
/// going through its plugins (`events_unprocessed_by_tenant`): that event's deliveries may yet join the
/// lane ahead of it. The claim lock makes each claim see the lanes as the last one left them.
pub(super) const CANDIDATES_SQL: &str = "WITH busy AS MATERIALIZED (
         SELECT subscription_id, count(*)::integer AS in_flight FROM deliveries
         WHERE lease_until > 0 AND lease_until > $1 AND status IN ('pending', 'failed')
             AND id NOT IN (SELECT unnest($4::text[]))
         GROUP BY subscription_id
     ),
     busy_tenants AS MATERIALIZED (
         SELECT s.tenant_id, sum(b.in_flight)::integer AS in_flight
         FROM busy AS b JOIN subscriptions AS s ON s.id = b.subscription_id
         GROUP BY s.tenant_id
     ),
     candidates AS (
         SELECT ctid, id, subscription_id, tenant_id, next_attempt_at, rate_slot, plugin, destination,
             batch_limit
         FROM deliveries
         WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1 AND lease_until <= $1
             AND request_method IS NOT NULL
             AND (SELECT enabled FROM subscriptions WHERE id = deliveries.subscription_id)
             AND subscription_id NOT IN (
                 SELECT b.subscription_id FROM busy AS b JOIN subscriptions AS s ON s.id = b.subscription_id
                 WHERE b.in_flight >= COALESCE(s.max_in_flight, $3))
             AND tenant_id NOT IN (SELECT tenant_id FROM busy_tenants WHERE in_flight >= $5)
             AND NOT EXISTS (
                 SELECT 1 FROM destination_budgets AS w
                 WHERE w.destination = deliveries.destination AND (w.paused_until > $1 OR w.next_slot_at > $1))
             AND (ordering_key IS NULL OR (
                 NOT EXISTS (
                     SELECT 1 FROM deliveries AS p
                     WHERE p.subscription_id = deliveries.subscription_id
                         AND p.ordering_key = deliveries.ordering_key
                         AND (p.status IN ('pending', 'failed')
                             OR (p.status = 'plugin_error' AND p.next_attempt_at IS NOT NULL))
                         AND (p.ordering_seq, p.ordering_index)
                             < (deliveries.ordering_seq, deliveries.ordering_index))
                 AND NOT EXISTS (
                     SELECT 1 FROM events AS e
                     WHERE e.tenant_id = deliveries.tenant_id AND NOT e.processed
                         AND e.seq < deliveries.ordering_seq)))
         ORDER BY next_attempt_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED
     )
     SELECT c.ctid::text, c.subscription_id, c.next_attempt_at, c.rate_slot, COALESCE(b.in_flight, 0),
         COALESCE(s.max_in_flight, $3), s.rate_limit, r.next_slot_at, c.tenant_id, COALESCE(t.in_flight, 0),
         c.plugin, c.destination, c.batch_limit, g.requests, g.window_ms, g.next_slot_at, c.id
     FROM candidates AS c JOIN subscriptions AS s ON s.id = c.subscription_id
         LEFT JOIN busy AS b ON b.subscription_id = c.subscription_id
         LEFT JOIN busy_tenants AS t ON t.tenant_id = c.tenant_id
         LEFT JOIN rate_limit_slots AS r ON r.subscription_id = c.subscription_id
         LEFT JOIN destination_budgets AS g ON g.destination = c.destination";

/// Writes a [`throttle::ClaimPlan`]: defers `$3` to the times `$4`, holding their rate-limit slots; sets
/// the next free slots `$6` of the subscriptions `$5` and `$8` of the destinations `$7`; and leases (until `$2`) the deliveries `$1`,
/// returning each with its subscription's secrets and headers. Deliveries are named by physical address
/// (`ctid`, as text): the claim's transaction holds their row locks, so the addresses cannot change.
pub(super) const LEASE_SQL: &str = "WITH deferred AS (
         UPDATE deliveries AS d SET next_attempt_at = x.at, rate_slot = TRUE
         FROM UNNEST($3::text[], $4::bigint[]) AS x(address, at)
         WHERE d.ctid = x.address::tid
     ),
     slots AS (
         INSERT INTO rate_limit_slots (subscription_id, next_slot_at)
         SELECT * FROM UNNEST($5::text[], $6::float8[])
         ON CONFLICT (subscription_id) DO UPDATE SET next_slot_at = EXCLUDED.next_slot_at
     ),
     destination_slots AS (
         INSERT INTO destination_budgets (destination, next_slot_at)
         SELECT * FROM UNNEST($7::text[], $8::float8[])
         ON CONFLICT (destination) DO UPDATE SET next_slot_at = EXCLUDED.next_slot_at
     )
     UPDATE deliveries AS d SET lease_until = $2, rate_slot = FALSE
     FROM subscriptions AS s
     WHERE d.ctid = ANY($1::text[]::tid[]) AND s.id = d.subscription_id
     RETURNING d.id, d.tenant_id, d.event_id, d.subscription_id, d.request_method, d.request_url,
         d.request_headers, d.request_body, d.attempts, d.next_attempt_at,
         s.secret, s.previous_secret, s.previous_secret_expires_at, s.headers, s.endpoint_url, s.connections,
         d.ordering_key, d.first_attempt_at, s.ordering_max_hold_secs, d.plugin, d.destination, d.created_at,
         s.trace_context";

/// One transaction under the claim lock: read the candidates, plan, write the plan.
pub(super) async fn claim(
    client: &mut Client,
    claim: DeliveryClaim<'_>,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let DeliveryClaim {
        limit: max,
        lease_ms,
        now,
        default_max_in_flight,
        sent,
        max_in_flight_per_tenant,
        merging_plugins,
        default_budget,
    } = claim;
    let default_max_in_flight = default_max_in_flight.min(i32::MAX as u32) as i32;
    let per_tenant = max_in_flight_per_tenant.min(i32::MAX as u32) as i32;
    let tx = client.transaction().await?;
    // Sent together: the candidates statement runs (with a fresh snapshot) once the lock is held.
    let max = limit(max);
    let parameters: [Param<'_>; 5] = [&now, &max, &default_max_in_flight, &sent, &per_tenant];
    let (_, rows) =
        tokio::try_join!(query(&tx, CLAIM_LOCK_SQL, &[]), query(&tx, CANDIDATES_SQL, &parameters))?;
    let mut candidates = rows
        .iter()
        .map(|row| {
            let address: String = row.try_get(0)?;
            let due: Option<Millis> = row.try_get(2)?;
            let plugin: String = row.try_get(10)?;
            let destination = match row.try_get::<_, Option<String>>(11)? {
                None => None,
                Some(name) => {
                    let set = match (row.try_get::<_, Option<i32>>(13)?, row.try_get::<_, Option<i64>>(14)?) {
                        (Some(requests), Some(window_ms)) => {
                            Some(Budget { requests: requests.max(1) as u32, window_ms })
                        }
                        _ => None,
                    };
                    Some(DestinationCandidate {
                        budget: set.or_else(|| default_budget(&name)),
                        destination: name,
                        next_slot_at: row.try_get(15)?,
                        merges: merging_plugins.contains(&plugin),
                        plugin,
                        batch_limit: row.try_get::<_, Option<i32>>(12)?.map(|limit| limit.max(1) as u32),
                    })
                }
            };
            let candidate = throttle::Candidate {
                subscription_id: row.try_get(1)?,
                tenant_id: row.try_get(8)?,
                tenant_in_flight: row.try_get::<_, i32>(9)?.max(0) as u32,
                holds_rate_slot: row.try_get(3)?,
                in_flight: row.try_get::<_, i32>(4)?.max(0) as u32,
                max_in_flight: row.try_get::<_, i32>(5)?.max(0) as u32,
                rate_limit: row.try_get::<_, Option<i32>>(6)?.map(|rate| rate.max(1) as u32),
                next_slot_at: row.try_get(7)?,
                destination,
            };
            Ok((due, address, row.try_get::<_, String>(16)?, candidate))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // The join returns them in no defined order; the plan goes oldest due first.
    candidates.sort_by_key(|(due, _, _, _)| *due);
    let mut delivery_ids = Vec::with_capacity(candidates.len());
    let (addresses, candidates): (Vec<String>, Vec<throttle::Candidate>) = candidates
        .into_iter()
        .map(|(_, address, id, candidate)| {
            delivery_ids.push(id);
            (address, candidate)
        })
        .unzip();
    let ids: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let plan = throttle::plan(&candidates, now, max_in_flight_per_tenant);
    if plan.lease.is_empty() && plan.defer.is_empty() {
        return Ok(Vec::new());
    }
    let leased: Vec<&str> = plan.lease.iter().map(|&index| ids[index]).collect();
    let deferred: Vec<&str> = plan.defer.iter().map(|&(index, _)| ids[index]).collect();
    let deferred_to: Vec<Millis> = plan.defer.iter().map(|&(_, at)| at).collect();
    let slot_subscriptions: Vec<&str> = plan.next_slots.iter().map(|(id, _)| id.as_str()).collect();
    let slots: Vec<f64> = plan.next_slots.iter().map(|&(_, at)| at).collect();
    let destinations: Vec<&str> = plan.destination_slots.iter().map(|(name, _)| name.as_str()).collect();
    let destination_slots: Vec<f64> = plan.destination_slots.iter().map(|&(_, at)| at).collect();
    let rows = query(
        &tx,
        LEASE_SQL,
        &[
            &leased,
            &now.saturating_add(lease_ms),
            &deferred,
            &deferred_to,
            &slot_subscriptions,
            &slots,
            &destinations,
            &destination_slots,
        ],
    )
    .await?;
    tx.commit().await?;
    let mut claimed = claimed_deliveries(&rows, now)?;
    // Batches: each member, and the leader, carry the leader's id.
    let leaders: std::collections::HashMap<&str, &str> = plan
        .batched
        .iter()
        .flat_map(|&(member, leader)| {
            [
                (delivery_ids[member].as_str(), delivery_ids[leader].as_str()),
                (&delivery_ids[leader], &delivery_ids[leader]),
            ]
        })
        .collect();
    for delivery in &mut claimed {
        if let Some(leader) = leaders.get(delivery.id.as_str()) {
            delivery.batch_leader = Some((*leader).to_owned());
        }
    }
    Ok(claimed)
}

/// The rows [`LEASE_SQL`] returns, oldest due first.
fn claimed_deliveries(rows: &[Row], now: Millis) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut claimed = rows
        .iter()
        .map(|row| {
            let previous: Option<String> = row.try_get(11)?;
            let previous_expires_at: Option<Millis> = row.try_get(12)?;
            let mut secrets = vec![row.try_get(10)?];
            // The previous secret signs too while its grace period lasts, so receivers can switch over.
            if previous_expires_at.is_some_and(|expires_at| expires_at > now) {
                secrets.extend(previous);
            }
            let due: Option<Millis> = row.try_get(9)?;
            let delivery = ClaimedDelivery {
                id: row.try_get(0)?,
                tenant_id: row.try_get(1)?,
                event_id: row.try_get(2)?,
                subscription_id: row.try_get(3)?,
                request: StoredRequest {
                    method: row.try_get(4)?,
                    url: row.try_get::<_, Option<String>>(5)?.unwrap_or_default(),
                    headers: optional_json(row, 6)?.unwrap_or_default(),
                    body: row.try_get::<_, Option<Vec<u8>>>(7)?.unwrap_or_default(),
                },
                attempts: row.try_get::<_, i32>(8)? as u32,
                secrets,
                subscription_headers: from_json(row.try_get(13)?)?,
                endpoint_url: row.try_get(14)?,
                connections: from_json(row.try_get(15)?)?,
                ordering_key: row.try_get(16)?,
                first_attempt_at: row.try_get(17)?,
                ordering_max_hold_secs: row.try_get::<_, Option<i32>>(18)?.map(|secs| secs.max(0) as u32),
                plugin: row.try_get(19)?,
                destination: row.try_get(20)?,
                batch_leader: None,
                created_at: row.try_get(21)?,
                trace_context: row.try_get(22)?,
            };
            Ok((due, delivery))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    // `RETURNING` has no defined order.
    claimed.sort_by_key(|(due, _)| *due);
    Ok(claimed.into_iter().map(|(_, delivery)| delivery).collect())
}
