//! What a hand-off needs to know (see `store::handoff`), read in the commit's write transaction: the
//! subscriptions' limits and leased deliveries, the tenants' leased deliveries, and which destinations are
//! paced. Counted as the delivery claim counts (`deliveries::CLAIM_SQL`), on the same partial index.

use rusqlite::{Connection, OptionalExtension, params};

use super::{json_array, json_column};
use crate::store::handoff::{HandOffFacts, SubscriptionTerms, Wanted};
use crate::store::{HandOffTerms, Millis, StoreResult};

/// A subscription's terms (`?1`), with its deliveries leased at `?3` other than the JSON array `?4`;
/// `?2`: the default concurrency bound.
const SUBSCRIPTION_SQL: &str = "SELECT s.tenant_id, s.enabled = 1 AND s.rate_limit IS NULL,
         COALESCE(s.max_in_flight, ?2), s.secret, s.previous_secret, s.previous_secret_expires_at, s.headers,
         s.endpoint_url, s.connections, s.ordering_max_hold_secs, s.trace_context,
         (SELECT count(*) FROM deliveries AS d
          WHERE d.subscription_id = s.id AND d.lease_until > 0 AND d.lease_until > ?3
              AND d.status IN ('pending', 'failed') AND d.id NOT IN (SELECT value FROM json_each(?4)))
     FROM subscriptions AS s WHERE s.id = ?1";

/// A tenant's (`?1`) deliveries leased at `?2`, other than the JSON array `?3`.
const TENANT_SQL: &str =
    "SELECT count(*) FROM subscriptions AS s JOIN deliveries AS d ON d.subscription_id = s.id
     WHERE s.tenant_id = ?1 AND d.lease_until > 0 AND d.lease_until > ?2 AND d.status IN ('pending', 'failed')
         AND d.id NOT IN (SELECT value FROM json_each(?3))";

/// Whether a destination (`?1`) is paced at `?2`: a budget set, paused, or its next send slot ahead.
const DESTINATION_SQL: &str = "SELECT requests IS NOT NULL OR paused_until > ?2 OR next_slot_at > ?2
     FROM destination_budgets WHERE destination = ?1";

pub(super) fn facts(
    conn: &Connection,
    wanted: &Wanted<'_>,
    terms: &HandOffTerms,
) -> StoreResult<HandOffFacts> {
    let mut facts = HandOffFacts::default();
    if wanted.subscriptions.is_empty() {
        return Ok(facts);
    }
    let now = terms.now;
    let sent = json_array(&terms.sent);
    let mut subscription = conn.prepare_cached(SUBSCRIPTION_SQL)?;
    for &id in &wanted.subscriptions {
        let found = subscription
            .query_row(params![id, terms.default_max_in_flight, now, sent], |row| {
                subscription_terms(row, now)
            })
            .optional()?;
        if let Some(found) = found {
            facts.subscriptions.insert(id.to_owned(), found);
        }
    }
    let mut tenant = conn.prepare_cached(TENANT_SQL)?;
    for &id in &wanted.tenants {
        let in_flight: u32 = tenant.query_row(params![id, now, sent], |row| row.get(0))?;
        facts.tenants_in_flight.insert(id.to_owned(), in_flight);
    }
    let mut destination = conn.prepare_cached(DESTINATION_SQL)?;
    for &name in &wanted.destinations {
        let paced: Option<bool> = destination.query_row(params![name, now], |row| row.get(0)).optional()?;
        if paced == Some(true) {
            facts.paced_destinations.insert(name.to_owned());
        }
    }
    Ok(facts)
}

fn subscription_terms(row: &rusqlite::Row<'_>, now: Millis) -> rusqlite::Result<SubscriptionTerms> {
    let mut secrets = vec![row.get(3)?];
    // As the claim: the previous secret signs too while its grace period lasts.
    let previous_expires_at: Option<Millis> = row.get(5)?;
    if previous_expires_at.is_some_and(|expires_at| expires_at > now) {
        secrets.extend(row.get::<_, Option<String>>(4)?);
    }
    Ok(SubscriptionTerms {
        tenant_id: row.get(0)?,
        unthrottled: row.get(1)?,
        max_in_flight: row.get(2)?,
        secrets,
        headers: json_column(row, 6)?,
        endpoint_url: row.get(7)?,
        connections: json_column(row, 8)?,
        ordering_max_hold_secs: row.get(9)?,
        trace_context: row.get(10)?,
        in_flight: row.get(11)?,
    })
}
