//! Deliveries and their attempts: the claim that hands transient plugin errors back to the pipeline (the
//! delivery claim is `claims`), recording outcomes, listing, and retrying by hand.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::{Param, catalog, from_json, limit, query, to_json};
use crate::store::lanes::HOLDING_KEY;
use crate::store::{
    Attempt, AttemptRecord, ClaimedEvent, Delivery, DeliveryFilter, DeliveryStatus, Millis, NewDelivery,
    StoreError, StoreResult, StoredRequest,
};

/// Listing returns this many when asked for 0, and never more than `MAX_LIST`.
const DEFAULT_LIST: u32 = 100;
const MAX_LIST: u32 = 1000;

/// `INSERT … SELECT` of the deliveries given as [`DeliveryArrays`] (`$1`–`$21`); `d.k` numbers them from 1,
/// for the statement that appends its `WHERE`. A macro so that statements can `concat!` it.
macro_rules! insert_deliveries {
    () => {
        "INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, plugin, status, request_method,
             request_url, request_headers, request_body, error, next_attempt_at, created_at, updated_at,
             error_kind, logs, ordering_key, ordering_seq, ordering_index, destination, test, rerun_of,
             lease_until)
         SELECT d.id, d.tenant_id, d.event_id, d.subscription_id, d.plugin, d.status, d.request_method,
             d.request_url, d.request_headers, d.request_body, d.error, d.next_attempt_at, d.created_at,
             d.created_at, d.error_kind, d.logs, d.ordering_key, d.ordering_seq, d.ordering_index, d.destination,
             d.test, d.rerun_of, d.lease_until
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::text[], $9::text[], $10::bytea[], $11::text[], $12::bigint[], $13::bigint[], $14::text[],
             $15::text[], $16::text[], $17::bigint[], $18::integer[], $19::text[], $20::boolean[], $21::text[],
             $22::bigint[])
             WITH ORDINALITY
             AS d(id, tenant_id, event_id, subscription_id, plugin, status, request_method, request_url,
                 request_headers, request_body, error, next_attempt_at, created_at, error_kind, logs,
                 ordering_key, ordering_seq, ordering_index, destination, test, rerun_of, lease_until, k)"
    };
}
pub(super) use insert_deliveries;

/// New deliveries as one array per column, the parameters of [`insert_deliveries!`].
pub(super) struct DeliveryArrays<'a> {
    id: Vec<&'a str>,
    tenant_id: Vec<&'a str>,
    event_id: Vec<&'a str>,
    subscription_id: Vec<&'a str>,
    plugin: Vec<&'a str>,
    status: Vec<&'static str>,
    request_method: Vec<Option<&'a str>>,
    request_url: Vec<Option<&'a str>>,
    /// JSON, encoded here.
    request_headers: Vec<Option<String>>,
    request_body: Vec<Option<&'a [u8]>>,
    error: Vec<Option<&'a str>>,
    next_attempt_at: Vec<Option<Millis>>,
    created_at: Vec<Millis>,
    error_kind: Vec<Option<&'a str>>,
    logs: Vec<Option<&'a str>>,
    ordering_key: Vec<Option<&'a str>>,
    ordering_seq: Vec<Option<i64>>,
    ordering_index: Vec<Option<i32>>,
    destination: Vec<Option<&'a str>>,
    test: Vec<bool>,
    rerun_of: Vec<Option<&'a str>>,
    /// 0: not leased (see [`DeliveryArrays::leased`]).
    lease_until: Vec<Millis>,
}

impl<'a> DeliveryArrays<'a> {
    pub(super) fn new(deliveries: impl IntoIterator<Item = &'a NewDelivery>) -> StoreResult<Self> {
        let mut arrays = DeliveryArrays {
            id: Vec::new(),
            tenant_id: Vec::new(),
            event_id: Vec::new(),
            subscription_id: Vec::new(),
            plugin: Vec::new(),
            status: Vec::new(),
            request_method: Vec::new(),
            request_url: Vec::new(),
            request_headers: Vec::new(),
            request_body: Vec::new(),
            error: Vec::new(),
            next_attempt_at: Vec::new(),
            created_at: Vec::new(),
            error_kind: Vec::new(),
            logs: Vec::new(),
            ordering_key: Vec::new(),
            ordering_seq: Vec::new(),
            ordering_index: Vec::new(),
            destination: Vec::new(),
            test: Vec::new(),
            rerun_of: Vec::new(),
            lease_until: Vec::new(),
        };
        for delivery in deliveries {
            let request = delivery.request.as_ref();
            arrays.id.push(&delivery.id);
            arrays.tenant_id.push(&delivery.tenant_id);
            arrays.event_id.push(&delivery.event_id);
            arrays.subscription_id.push(&delivery.subscription_id);
            arrays.plugin.push(&delivery.plugin);
            arrays.status.push(delivery.status.as_str());
            arrays.request_method.push(request.map(|request| request.method.as_str()));
            arrays.request_url.push(request.map(|request| request.url.as_str()));
            arrays.request_headers.push(request.map(|request| to_json(&request.headers)).transpose()?);
            arrays.request_body.push(request.map(|request| request.body.as_slice()));
            arrays.error.push(delivery.error.as_deref());
            arrays.next_attempt_at.push(delivery.next_attempt_at);
            arrays.created_at.push(delivery.created_at);
            arrays.error_kind.push(delivery.error_kind.as_deref());
            arrays.logs.push(delivery.logs_json.as_deref());
            let lane = delivery.lane.as_ref();
            arrays.ordering_key.push(lane.map(|lane| lane.key.as_str()));
            arrays.ordering_seq.push(lane.map(|lane| lane.seq));
            arrays.ordering_index.push(lane.map(|lane| lane.index.min(i32::MAX as u32) as i32));
            arrays.destination.push(delivery.destination.as_deref());
            arrays.test.push(delivery.test);
            arrays.rerun_of.push(delivery.rerun_of.as_deref());
            arrays.lease_until.push(0);
        }
        Ok(arrays)
    }

    /// The same deliveries, each stored leased until its entry of `leases` (0: not leased).
    pub(super) fn leased(self, leases: Vec<Millis>) -> Self {
        debug_assert_eq!(leases.len(), self.id.len());
        DeliveryArrays { lease_until: leases, ..self }
    }

    /// `$1`–`$22`, for a statement to append its own to.
    pub(super) fn params(&self) -> Vec<Param<'_>> {
        vec![
            &self.id,
            &self.tenant_id,
            &self.event_id,
            &self.subscription_id,
            &self.plugin,
            &self.status,
            &self.request_method,
            &self.request_url,
            &self.request_headers,
            &self.request_body,
            &self.error,
            &self.next_attempt_at,
            &self.created_at,
            &self.error_kind,
            &self.logs,
            &self.ordering_key,
            &self.ordering_seq,
            &self.ordering_index,
            &self.destination,
            &self.test,
            &self.rerun_of,
            &self.lease_until,
        ]
    }
}

/// A delivery id taken twice is a conflict, as in every store.
pub(super) fn map_insert_error(error: tokio_postgres::Error) -> StoreError {
    if error.code() != Some(&SqlState::UNIQUE_VIOLATION) {
        return error.into();
    }
    // The detail reads `Key (id)=(dlv_…) already exists.`
    let id = error
        .as_db_error()
        .and_then(|db| db.detail())
        .and_then(|detail| {
            detail.split_once(")=(")?.1.rsplit_once(") already exists").map(|(id, _)| id.to_owned())
        })
        .unwrap_or_default();
    StoreError::Conflict(format!("delivery {id}"))
}

/// Leases (`$2`) up to `$3` due (at `$1`), unleased transient plugin errors of enabled subscriptions, oldest
/// due first, with their events (kept while a delivery refers to them). The inner select walks the
/// `deliveries_plugin_retries` index in order, locking the rows it takes and skipping those another claim
/// has locked; the update then finds them by physical address. Both run in one statement, so the locks hold
/// until the leases are written.
pub(super) const CLAIM_PLUGIN_RETRIES_SQL: &str = "UPDATE deliveries AS d SET lease_until = $2
     FROM events AS e
     WHERE d.ctid = ANY(ARRAY(
             SELECT ctid FROM deliveries
             WHERE status = 'plugin_error' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1
                 AND lease_until <= $1
                 AND (SELECT enabled AND paused_reason IS NULL FROM subscriptions
                      WHERE id = deliveries.subscription_id)
                 AND tenant_id <> ALL($4::text[])
             ORDER BY next_attempt_at
             LIMIT $3
             FOR UPDATE SKIP LOCKED
         ))
         AND e.tenant_id = d.tenant_id AND e.id = d.event_id
     RETURNING d.id, d.next_attempt_at,
         e.tenant_id, e.id, e.event_type, e.event_timestamp, e.data, e.received_at, e.seq, e.origin";

pub(super) async fn claim_plugin_retries(
    client: &Client,
    max: u32,
    lease_ms: i64,
    now: Millis,
    exclude_tenants: &[String],
) -> StoreResult<Vec<(String, ClaimedEvent)>> {
    let rows = query(
        client,
        CLAIM_PLUGIN_RETRIES_SQL,
        &[&now, &now.saturating_add(lease_ms), &limit(max), &exclude_tenants],
    )
    .await?;
    let mut claimed = rows
        .iter()
        .map(|row| {
            let event = super::events::event_at(row, 2)?;
            Ok((row.try_get::<_, Option<Millis>>(1)?, row.try_get::<_, String>(0)?, event))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|(due, _, _)| *due);
    Ok(claimed.into_iter().map(|(_, id, event)| (id, event)).collect())
}

/// Replaces the plugin error `$23` with the new run's deliveries. If it is no longer there (another
/// worker's claim, after this one's lease ran out, replaced it first), nothing is stored: that run's
/// deliveries are.
pub(super) const REPLACE_PLUGIN_RETRY_SQL: &str = concat!(
    "WITH removed AS (DELETE FROM deliveries WHERE id = $23 AND status = 'plugin_error' RETURNING id), ",
    // A rolled-back candidate's delivery may have had attempts: they go with it.
    "removed_attempts AS (DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM removed)) ",
    insert_deliveries!(),
    " WHERE EXISTS (SELECT 1 FROM removed)"
);

/// One statement, committed on its own.
pub(super) async fn replace_plugin_retry(
    client: &Client,
    delivery_id: &str,
    new: &[NewDelivery],
) -> StoreResult<()> {
    let deliveries = DeliveryArrays::new(new)?;
    let mut params = deliveries.params();
    params.push(&delivery_id);
    query(client, REPLACE_PLUGIN_RETRY_SQL, &params).await.map_err(map_insert_error)?;
    Ok(())
}

/// Records a batch of attempts (`$1`–`$14`, one array per field of [`AttemptRecord`], `n` numbering them
/// from 1) in one statement:
/// - a `failed` delivery of a subscription deleted meanwhile could never be claimed: it is `dead` instead;
/// - each delivery gets its status, schedule and attempt count, and its lease is released; a record whose
///   delivery is gone is skipped;
/// - each attempt is stored, numbered by the delivery's attempt count;
/// - each subscription's health follows its records in order: a success clears `failing_since`, a failure
///   sets it if unset. Only a change writes the row, so a success on a healthy subscription (the common
///   case) locks nothing, and rows are changed in id order, so two batches do not lock two subscriptions in
///   opposite orders.
///
/// Returns the `n` of the stored records that disable their subscription. A batch must not name a
/// delivery twice (an `UPDATE` changes a row once).
pub(super) const RECORD_ATTEMPTS_SQL: &str = "WITH r AS (
         SELECT r.*, r.status = 'failed'
                 AND NOT EXISTS (SELECT 1 FROM subscriptions AS s WHERE s.id = r.subscription_id) AS orphaned
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[], $6::text[], $7::text[],
             $8::text[], $9::bigint[], $10::text[], $11::text[], $12::boolean[], $13::text[], $14::integer[])
             WITH ORDINALITY
             AS r(delivery_id, subscription_id, at, status_code, latency_ms, response_excerpt, error, status,
                 next_attempt_at, disable, delivery_error, paced, batch_id, batch_limit, n)
     ),
     updated AS (
         UPDATE deliveries AS d SET attempts = d.attempts + CASE WHEN r.paced THEN 0 ELSE 1 END,
             status = CASE WHEN r.paced THEN d.status WHEN r.orphaned THEN 'dead'
                 WHEN d.resume_at > r.at AND r.status IN ('failed', 'dead') THEN 'failed' ELSE r.status END,
             next_attempt_at = CASE WHEN r.orphaned AND NOT r.paced THEN NULL
                 WHEN NOT r.paced AND d.resume_at > r.at AND r.status IN ('failed', 'dead') THEN d.resume_at
                 ELSE r.next_attempt_at END,
             resume_at = CASE WHEN r.paced THEN d.resume_at END,
             lease_until = 0, updated_at = r.at,
             first_attempt_at = CASE WHEN r.paced THEN d.first_attempt_at ELSE COALESCE(d.first_attempt_at, r.at) END,
             error = CASE WHEN r.status = 'succeeded' AND NOT r.paced THEN NULL
                 ELSE COALESCE(r.delivery_error, d.error) END,
             batch_id = COALESCE(r.batch_id, d.batch_id), batch_limit = COALESCE(r.batch_limit, d.batch_limit)
         FROM r
         WHERE d.id = r.delivery_id
         RETURNING r.n, d.attempts, d.status = 'succeeded' AS succeeded, r.paced
     ),
     stored AS (
         INSERT INTO attempts (delivery_id, number, at, status_code, latency_ms, response_excerpt, error)
         SELECT r.delivery_id, u.attempts, r.at, r.status_code, r.latency_ms, r.response_excerpt, r.error
         FROM updated AS u JOIN r USING (n)
     ),
     outcomes AS (
         SELECT r.subscription_id, u.n, r.at, u.succeeded,
             MAX(u.n) FILTER (WHERE u.succeeded) OVER (PARTITION BY r.subscription_id) AS last_success
         FROM updated AS u JOIN r USING (n)
         WHERE NOT u.paced
     ),
     health AS (
         SELECT subscription_id, bool_or(succeeded) AS recovered,
             (array_agg(at ORDER BY n) FILTER (WHERE n > COALESCE(last_success, 0)))[1] AS failing_at
         FROM outcomes
         GROUP BY subscription_id
         ORDER BY subscription_id
     ),
     healed AS (
         UPDATE subscriptions AS s
         SET failing_since = CASE WHEN h.recovered THEN h.failing_at ELSE COALESCE(s.failing_since, h.failing_at) END
         FROM health AS h
         WHERE s.id = h.subscription_id
             AND s.failing_since IS DISTINCT FROM
                 (CASE WHEN h.recovered THEN h.failing_at ELSE COALESCE(s.failing_since, h.failing_at) END)
     )
     SELECT n FROM updated JOIN r USING (n) WHERE r.disable IS NOT NULL AND NOT r.paced";

/// A batch is usually one statement, committed on its own. Records that disable their subscription give up
/// its waiting deliveries at their place in the batch, and a delivery named twice is recorded twice: for
/// those the batch is split into parts recorded in order, in one transaction.
pub(super) async fn record_attempts(client: &mut Client, records: &[AttemptRecord]) -> StoreResult<()> {
    let parts = split(records);
    if let [part] = parts.as_slice()
        && part.iter().all(|record| record.disable_subscription.is_none())
    {
        return record_part(&*client, part).await;
    }
    let tx = client.transaction().await?;
    for part in parts {
        record_part(&tx, part).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Consecutive parts of `records`, each naming a delivery at most once and ending at the latest with a
/// record that disables its subscription.
fn split(records: &[AttemptRecord]) -> Vec<&[AttemptRecord]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (index, record) in records.iter().enumerate() {
        if !seen.insert(record.delivery_id.as_str()) {
            parts.push(&records[start..index]);
            start = index;
            seen.clear();
            seen.insert(record.delivery_id.as_str());
        }
        if record.disable_subscription.is_some() {
            parts.push(&records[start..=index]);
            start = index + 1;
            seen.clear();
        }
    }
    if start < records.len() {
        parts.push(&records[start..]);
    }
    parts
}

async fn record_part(client: &impl GenericClient, records: &[AttemptRecord]) -> StoreResult<()> {
    let text = |get: fn(&AttemptRecord) -> &str| records.iter().map(get).collect::<Vec<_>>();
    let at: Vec<Millis> = records.iter().map(|record| record.at).collect();
    let status_code: Vec<Option<i32>> =
        records.iter().map(|record| record.status_code.map(i32::from)).collect();
    let latency_ms: Vec<i64> = records.iter().map(|record| record.latency_ms as i64).collect();
    let error: Vec<Option<&str>> = records.iter().map(|record| record.error.as_deref()).collect();
    let status: Vec<&str> = records.iter().map(|record| record.new_status.as_str()).collect();
    let next_attempt_at: Vec<Option<Millis>> = records.iter().map(|record| record.next_attempt_at).collect();
    let disable: Vec<Option<&str>> =
        records.iter().map(|record| record.disable_subscription.as_deref()).collect();
    let delivery_error: Vec<Option<&str>> =
        records.iter().map(|record| record.delivery_error.as_deref()).collect();
    let paced: Vec<bool> = records.iter().map(|record| record.paced).collect();
    let batch_id: Vec<Option<&str>> = records.iter().map(|record| record.batch_id.as_deref()).collect();
    let batch_limit: Vec<Option<i32>> = records
        .iter()
        .map(|record| record.batch_limit.map(|limit| limit.min(i32::MAX as u32) as i32))
        .collect();
    let rows = query(
        client,
        RECORD_ATTEMPTS_SQL,
        &[
            &text(|r| &r.delivery_id),
            &text(|r| &r.subscription_id),
            &at,
            &status_code,
            &latency_ms,
            &text(|r| &r.response_excerpt),
            &error,
            &status,
            &next_attempt_at,
            &disable,
            &delivery_error,
            &paced,
            &batch_id,
            &batch_limit,
        ],
    )
    .await?;
    for row in rows {
        let record = &records[row.try_get::<_, i64>(0)? as usize - 1];
        let Some(reason) = &record.disable_subscription else { continue };
        super::execute(
            client,
            "UPDATE subscriptions SET enabled = FALSE, disabled_reason = $2, updated_at = $3 WHERE id = $1",
            &[&record.subscription_id, reason, &record.at],
        )
        .await?;
        // Its queue would otherwise wait, unclaimable, until someone re-enables it; dead deliveries can be
        // replayed after that.
        let reason = format!("subscription disabled: {reason}");
        catalog::give_up_waiting_deliveries(client, &record.subscription_id, &reason, record.at).await?;
    }
    Ok(())
}

const DELIVERY_COLUMNS: &str = "id, tenant_id, event_id, subscription_id, plugin, status, request_method, \
     request_url, request_headers, request_body, error, next_attempt_at, created_at, updated_at, error_kind, \
     logs, ordering_key, destination, batch_id, test, rerun_of, \
     (SELECT e.event_type FROM events e WHERE e.tenant_id = deliveries.tenant_id AND e.id = deliveries.event_id)";

/// Reads an optional JSON text column.
pub(super) fn optional_json<T: serde::de::DeserializeOwned>(
    row: &Row,
    index: usize,
) -> StoreResult<Option<T>> {
    row.try_get::<_, Option<&str>>(index)?.map(from_json).transpose()
}

fn delivery(row: &Row) -> StoreResult<Delivery> {
    let status: &str = row.try_get(5)?;
    let status = DeliveryStatus::parse(status)
        .ok_or_else(|| StoreError::Database(format!("unknown delivery status {status:?}")))?;
    let request = match row.try_get::<_, Option<String>>(6)? {
        None => None,
        Some(method) => Some(StoredRequest {
            method,
            url: row.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
            headers: optional_json(row, 8)?.unwrap_or_default(),
            body: row.try_get::<_, Option<Vec<u8>>>(9)?.unwrap_or_default(),
        }),
    };
    Ok(Delivery {
        id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        event_id: row.try_get(2)?,
        subscription_id: row.try_get(3)?,
        plugin: row.try_get(4)?,
        status,
        request,
        error: row.try_get(10)?,
        error_kind: row.try_get(14)?,
        logs_json: row.try_get(15)?,
        next_attempt_at: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        ordering_key: row.try_get(16)?,
        destination: row.try_get(17)?,
        batch_id: row.try_get(18)?,
        test: row.try_get(19)?,
        rerun_of: row.try_get(20)?,
        event_type: row.try_get(21)?,
        attempts: Vec::new(),
    })
}

pub(super) async fn list(
    client: &Client,
    tenant_id: &str,
    filter: &DeliveryFilter,
) -> StoreResult<Vec<Delivery>> {
    let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant_id = $1");
    let mut values: Vec<Param<'_>> = vec![&tenant_id];
    let status = filter.status.map(DeliveryStatus::as_str);
    for (column, value) in [
        ("event_id", filter.event_id.as_ref().map(|value| value as Param<'_>)),
        ("subscription_id", filter.subscription_id.as_ref().map(|value| value as Param<'_>)),
        ("status", status.as_ref().map(|value| value as Param<'_>)),
    ] {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&format!(" AND {column} = ${}", values.len()));
        }
    }
    let count = i64::from(match filter.limit {
        0 => DEFAULT_LIST,
        count => count.min(MAX_LIST),
    });
    if filter.holding_key {
        sql.push_str(&format!(" AND {HOLDING_KEY}"));
    }
    values.push(&count);
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${}", values.len()));
    // At most sixteen distinct statements, each prepared once per connection.
    let rows = query(client, &sql, &values).await?;
    let mut deliveries = rows.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
    attach_attempts(client, &mut deliveries).await?;
    Ok(deliveries)
}

pub(super) async fn get(client: &Client, tenant_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
    let rows = query(
        client,
        &format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND tenant_id = $2"),
        &[&id, &tenant_id],
    )
    .await?;
    let mut found = rows.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
    attach_attempts(client, &mut found).await?;
    Ok(found.pop())
}

/// Fills in the attempts of `deliveries` with one query.
async fn attach_attempts(client: &Client, deliveries: &mut [Delivery]) -> StoreResult<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = deliveries.iter().map(|delivery| delivery.id.as_str()).collect();
    let rows = query(
        client,
        "SELECT delivery_id, at, status_code, latency_ms, response_excerpt, error FROM attempts
         WHERE delivery_id = ANY($1)
         ORDER BY delivery_id, at, number",
        &[&ids],
    )
    .await?;
    let mut by_delivery: HashMap<String, Vec<Attempt>> = HashMap::new();
    for row in rows {
        let attempt = Attempt {
            at: row.try_get(1)?,
            status_code: row.try_get::<_, Option<i32>>(2)?.map(|code| code as u16),
            latency_ms: row.try_get::<_, i64>(3)? as u64,
            response_excerpt: row.try_get(4)?,
            error: row.try_get(5)?,
        };
        by_delivery.entry(row.try_get(0)?).or_default().push(attempt);
    }
    for delivery in deliveries {
        delivery.attempts = by_delivery.remove(&delivery.id).unwrap_or_default();
    }
    Ok(())
}

/// Due now again, keeping its attempts; `failed` stays `failed`, the others become `pending`. The lease is
/// left alone: an attempt in flight finishes first. A delivery of a deleted subscription could never be
/// claimed, so it is not retried. A `dead` or `succeeded` one leaves its ordered lane (its key went on
/// without it): it is sent on its own, blocking nothing; a `failed` one is still its lane's head.
pub(super) async fn retry(client: &Client, tenant_id: &str, id: &str, now: Millis) -> StoreResult<bool> {
    let changed = super::execute(
        client,
        "UPDATE deliveries SET status = CASE WHEN status = 'failed' THEN 'failed' ELSE 'pending' END,
             resume_at = CASE WHEN status = 'failed' THEN next_attempt_at END,
             next_attempt_at = $3, error = NULL, updated_at = $3,
             ordering_key = CASE WHEN status = 'failed' THEN ordering_key END
         WHERE id = $1 AND tenant_id = $2 AND status IN ('failed', 'dead', 'succeeded')
             AND request_method IS NOT NULL
             AND EXISTS (SELECT 1 FROM subscriptions WHERE id = deliveries.subscription_id)",
        &[&id, &tenant_id, &now],
    )
    .await?;
    Ok(changed == 1)
}

pub(super) async fn replay(
    client: &Client,
    tenant_id: &str,
    subscription_id: &str,
    from: Millis,
    to: Millis,
    now: Millis,
) -> StoreResult<u64> {
    Ok(super::execute(
        client,
        "UPDATE deliveries SET status = CASE WHEN status = 'failed' THEN 'failed' ELSE 'pending' END,
             next_attempt_at = $5, error = NULL, updated_at = $5,
             ordering_key = CASE WHEN status = 'failed' THEN ordering_key END
         WHERE subscription_id = $2 AND created_at >= $3 AND created_at < $4 AND tenant_id = $1
             AND status IN ('dead', 'failed') AND request_method IS NOT NULL
             AND EXISTS (SELECT 1 FROM subscriptions WHERE id = $2 AND tenant_id = $1)",
        &[&tenant_id, &subscription_id, &from, &to, &now],
    )
    .await?)
}

pub(super) async fn release(client: &Client, ids: &[String], due: Millis) -> StoreResult<()> {
    super::execute(
        client,
        "UPDATE deliveries SET lease_until = 0, next_attempt_at = $2 WHERE id = ANY($1)",
        &[&ids, &due],
    )
    .await?;
    Ok(())
}
