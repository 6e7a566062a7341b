//! The hand-off on PostgreSQL (see `store::handoff`): in one transaction under the delivery claims' lock —
//! so no claim changes the in-flight counts between their reading and the leases — read the subscriptions'
//! limits and leased deliveries, the tenants' leased deliveries and which destinations are paced, then
//! complete the events with the deliveries handed over stored leased. Counted as the claim counts
//! (`claims::CANDIDATES_SQL`), on the same partial index.

use std::collections::HashSet;

use deadpool_postgres::Client;

use super::claims::CLAIM_LOCK_SQL;
use super::{Param, events, from_json, query};
use crate::store::handoff::{HandOff, HandOffFacts, SubscriptionTerms, Wanted};
use crate::store::{ClaimedDelivery, HandOffTerms, Millis, ProcessedEvent, StoreResult};

/// The subscriptions `$1` with their deliveries leased at `$3` other than `$4`; `$2`: the default
/// concurrency bound.
const SUBSCRIPTIONS_SQL: &str = "SELECT s.id, s.tenant_id, s.enabled AND s.rate_limit IS NULL,
         COALESCE(s.max_in_flight, $2::integer), s.secret, s.previous_secret, s.previous_secret_expires_at,
         s.headers, s.endpoint_url, s.connections, s.ordering_max_hold_secs, s.trace_context,
         (SELECT count(*)::integer FROM deliveries AS d
          WHERE d.subscription_id = s.id AND d.lease_until > 0 AND d.lease_until > $3
              AND d.status IN ('pending', 'failed') AND d.id <> ALL($4::text[]))
     FROM subscriptions AS s WHERE s.id = ANY($1::text[])";

/// The tenants `$1`'s deliveries leased at `$2`, other than `$3` (a tenant with none has no row).
const TENANTS_SQL: &str = "SELECT s.tenant_id, count(*)::integer
     FROM subscriptions AS s JOIN deliveries AS d ON d.subscription_id = s.id
     WHERE s.tenant_id = ANY($1::text[]) AND d.lease_until > 0 AND d.lease_until > $2
         AND d.status IN ('pending', 'failed') AND d.id <> ALL($3::text[])
     GROUP BY s.tenant_id";

/// Which of the destinations `$1` are paced at `$2`: a budget set, paused, or their next send slot ahead.
const PACED_SQL: &str = "SELECT destination FROM destination_budgets
     WHERE destination = ANY($1::text[])
         AND (requests IS NOT NULL OR paused_until > $2::bigint OR next_slot_at > $2::bigint)";

pub(super) async fn complete_handing_off(
    client: &mut Client,
    processed: &[ProcessedEvent],
    terms: &HandOffTerms,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let wanted = HandOff::wanted(processed, terms);
    if wanted.subscriptions.is_empty() {
        events::complete(client, processed).await?;
        return Ok(Vec::new());
    }
    let tx = client.transaction().await?;
    let facts = facts(&tx, &wanted, terms).await?;
    let mut handoff = HandOff::new(terms, facts);
    let leases: Vec<Millis> = processed
        .iter()
        .flat_map(|event| &event.deliveries)
        .map(|delivery| handoff.lease_for(delivery))
        .collect();
    let stored: HashSet<String> =
        events::complete_leased(&tx, processed, Some(leases)).await?.into_iter().collect();
    tx.commit().await?;
    // An event another worker completed first stored none of this one's deliveries.
    Ok(handoff.into_handed().into_iter().filter(|delivery| stored.contains(&delivery.id)).collect())
}

/// Takes the claims' lock and reads the facts, the statements sent together (each runs once the lock is
/// held, with its own snapshot).
async fn facts(
    tx: &deadpool_postgres::Transaction<'_>,
    wanted: &Wanted<'_>,
    terms: &HandOffTerms,
) -> StoreResult<HandOffFacts> {
    let now = terms.now;
    let default_max_in_flight = terms.default_max_in_flight.min(i32::MAX as u32) as i32;
    let subscription_params: [Param<'_>; 4] =
        [&wanted.subscriptions, &default_max_in_flight, &now, &terms.sent];
    let tenant_params: [Param<'_>; 3] = [&wanted.tenants, &now, &terms.sent];
    let paced_params: [Param<'_>; 2] = [&wanted.destinations, &now];
    let (_, subscriptions, tenants, paced) = tokio::try_join!(
        query(tx, CLAIM_LOCK_SQL, &[]),
        query(tx, SUBSCRIPTIONS_SQL, &subscription_params),
        query(tx, TENANTS_SQL, &tenant_params),
        query(tx, PACED_SQL, &paced_params),
    )?;
    let mut facts = HandOffFacts::default();
    for row in &subscriptions {
        let mut secrets = vec![row.try_get(4)?];
        // As the claim: the previous secret signs too while its grace period lasts.
        let previous_expires_at: Option<Millis> = row.try_get(6)?;
        if previous_expires_at.is_some_and(|expires_at| expires_at > now) {
            secrets.extend(row.try_get::<_, Option<String>>(5)?);
        }
        let terms = SubscriptionTerms {
            tenant_id: row.try_get(1)?,
            unthrottled: row.try_get(2)?,
            max_in_flight: row.try_get::<_, i32>(3)?.max(0) as u32,
            secrets,
            headers: from_json(row.try_get(7)?)?,
            endpoint_url: row.try_get(8)?,
            connections: from_json(row.try_get(9)?)?,
            ordering_max_hold_secs: row.try_get::<_, Option<i32>>(10)?.map(|secs| secs.max(0) as u32),
            trace_context: row.try_get(11)?,
            in_flight: row.try_get::<_, i32>(12)?.max(0) as u32,
        };
        facts.subscriptions.insert(row.try_get(0)?, terms);
    }
    for row in &tenants {
        facts.tenants_in_flight.insert(row.try_get(0)?, row.try_get::<_, i32>(1)?.max(0) as u32);
    }
    for row in &paced {
        facts.paced_destinations.insert(row.try_get(0)?);
    }
    Ok(facts)
}
