//! Re-runs (see [`crate::store::Rerun`]) on PostgreSQL: the old delivery is superseded and a placeholder
//! plugin error, due now, makes the pipeline run the subscription's current plugin on the event.

use deadpool_postgres::{Client, GenericClient};

use crate::store::{Millis, Rerun, StoreResult, rerun_placeholder_error};

async fn rerun_in(tx: &impl GenericClient, tenant_id: &str, id: &str, now: Millis) -> StoreResult<Rerun> {
    let rows = tx
        .query(
            "SELECT d.event_id, d.subscription_id, d.plugin, d.status, d.test, d.lease_until,
                 EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id)
             FROM deliveries d WHERE d.id = $1 AND d.tenant_id = $2 FOR UPDATE",
            &[&id, &tenant_id],
        )
        .await?;
    let Some(row) = rows.first() else { return Ok(Rerun::NotFound) };
    let (event_id, subscription_id, plugin): (String, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let (status, test, lease_until, subscribed): (String, bool, Millis, bool) =
        (row.try_get(3)?, row.try_get(4)?, row.try_get(5)?, row.try_get(6)?);
    if status == "superseded" {
        return Ok(Rerun::AlreadyRerun);
    }
    if !subscribed {
        return Ok(Rerun::SubscriptionGone);
    }
    if lease_until > now {
        return Ok(Rerun::InFlight);
    }
    tx.execute(
        "UPDATE deliveries SET status = 'superseded', next_attempt_at = NULL, updated_at = $2
         WHERE id = $1 AND status IN ('pending', 'failed', 'dead', 'plugin_error')",
        &[&id, &now],
    )
    .await?;
    let placeholder = crate::ids::new_time_ordered_id("dlv");
    tx.execute(
        "INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, plugin, status, error, error_kind,
             next_attempt_at, created_at, updated_at, test, rerun_of)
         VALUES ($1, $2, $3, $4, $5, 'plugin_error', $6, 'rerun', $7, $7, $7, $8, $9)",
        &[
            &placeholder,
            &tenant_id,
            &event_id,
            &subscription_id,
            &plugin,
            &rerun_placeholder_error(),
            &now,
            &test,
            &id,
        ],
    )
    .await?;
    Ok(Rerun::Started { event_id })
}

pub(super) async fn rerun(client: &mut Client, tenant_id: &str, id: &str, now: Millis) -> StoreResult<Rerun> {
    let tx = client.transaction().await?;
    let rerun = rerun_in(&tx, tenant_id, id, now).await?;
    tx.commit().await?;
    Ok(rerun)
}

pub(super) async fn rerun_range(
    client: &mut Client,
    tenant_id: &str,
    subscription_id: &str,
    (from, to): (Millis, Millis),
    include_sent: bool,
    now: Millis,
) -> StoreResult<u64> {
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT id FROM deliveries
             WHERE subscription_id = $2 AND created_at >= $3 AND created_at < $4 AND tenant_id = $1
               AND lease_until <= $6
               AND ((status = 'plugin_error' AND next_attempt_at IS NULL)
                    OR ($5 AND status IN ('failed', 'dead')))",
            &[&tenant_id, &subscription_id, &from, &to, &include_sent, &now],
        )
        .await?;
    let mut started = 0;
    for row in rows {
        let id: String = row.try_get(0)?;
        if matches!(rerun_in(&tx, tenant_id, &id, now).await?, Rerun::Started { .. }) {
            started += 1;
        }
    }
    tx.commit().await?;
    Ok(started)
}
