//! Tenants, their API keys, plugin versions and subscriptions: the rows the admin API manages.

use std::time::{SystemTime, UNIX_EPOCH};

use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;

use super::{constraint_error, execute, from_json, query, to_json};
use crate::store::{
    Canary, Millis, NewPluginVersion, PluginScope, PluginUsage, PluginVersion, StoreError, StoreResult,
    Subscription, Tenant, tenant_plugin_prefix,
};

pub(super) async fn create_tenant(client: &Client, tenant: &Tenant) -> StoreResult<()> {
    let platforms = (!tenant.platforms.is_empty()).then(|| to_json(&tenant.platforms)).transpose()?;
    execute(
        client,
        "INSERT INTO tenants (id, name, created_at, policy, platforms) VALUES ($1, $2, $3, $4, $5)",
        &[&tenant.id, &tenant.name, &tenant.created_at, &tenant.policy_json, &platforms],
    )
    .await
    .map_err(constraint_error(|| format!("tenant {}", tenant.id), || format!("tenant {}", tenant.id)))?;
    Ok(())
}

pub(super) async fn get_tenant(client: &Client, id: &str) -> StoreResult<Option<Tenant>> {
    let rows =
        query(client, "SELECT id, name, created_at, policy, platforms FROM tenants WHERE id = $1", &[&id])
            .await?;
    rows.first().map(tenant).transpose()
}

/// A tenant from the columns `id, name, created_at, policy, platforms`.
fn tenant(row: &Row) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        created_at: row.try_get(2)?,
        policy_json: row.try_get(3)?,
        platforms: row.try_get::<_, Option<&str>>(4)?.map(from_json).transpose()?.unwrap_or_default(),
    })
}

pub(super) async fn list_tenants(client: &Client) -> StoreResult<Vec<Tenant>> {
    let rows =
        query(client, "SELECT id, name, created_at, policy, platforms FROM tenants ORDER BY id", &[]).await?;
    rows.iter().map(tenant).collect()
}

pub(super) async fn set_tenant_platforms(
    client: &Client,
    id: &str,
    platforms: &[String],
) -> StoreResult<bool> {
    let platforms = (!platforms.is_empty()).then(|| to_json(platforms)).transpose()?;
    Ok(execute(client, "UPDATE tenants SET platforms = $2 WHERE id = $1", &[&id, &platforms]).await? == 1)
}

pub(super) async fn set_tenant_policy(
    client: &Client,
    id: &str,
    policy_json: Option<&str>,
) -> StoreResult<bool> {
    Ok(execute(client, "UPDATE tenants SET policy = $2 WHERE id = $1", &[&id, &policy_json]).await? == 1)
}

/// Inserts the key if its tenant exists: the check and the insert are one statement.
pub(super) async fn create_api_key(
    client: &Client,
    tenant_id: &str,
    key_sha256: &str,
    prefix: &str,
    created_at: Millis,
) -> StoreResult<()> {
    let missing = || format!("tenant {tenant_id}");
    let inserted = execute(
        client,
        "INSERT INTO api_keys (key_sha256, tenant_id, created_at, prefix)
         SELECT $1::text, $2::text, $3::bigint, $4::text WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $2)",
        &[&key_sha256, &tenant_id, &created_at, &prefix],
    )
    .await
    .map_err(constraint_error(|| "api key".to_owned(), missing))?;
    if inserted == 0 { Err(StoreError::NotFound(missing())) } else { Ok(()) }
}

pub(super) async fn tenant_for_api_key(client: &Client, key_sha256: &str) -> StoreResult<Option<String>> {
    let rows = query(client, "SELECT tenant_id FROM api_keys WHERE key_sha256 = $1", &[&key_sha256]).await?;
    Ok(rows.first().map(|row| row.try_get(0)).transpose()?)
}

const PLUGIN_COLUMNS: &str = "name, version, digest, size_bytes, created_at";

fn plugin_version(row: &Row) -> StoreResult<PluginVersion> {
    Ok(PluginVersion {
        name: row.try_get(0)?,
        version: row.try_get::<_, i32>(1)? as u32,
        digest: row.try_get(2)?,
        size_bytes: row.try_get::<_, i64>(3)? as u64,
        created_at: row.try_get(4)?,
    })
}

/// Numbers the new version under a lock on the plugin's name, so that two instances uploading at once
/// get two numbers rather than one of them a conflict; with a quota, under a lock on the owner too, so
/// that two uploads at once cannot both fit in the last room.
pub(super) async fn add_plugin_version(
    client: &mut Client,
    new: &NewPluginVersion<'_>,
) -> StoreResult<PluginVersion> {
    let tx = client.transaction().await?;
    if let Some(quota) = &new.quota {
        execute(
            &tx,
            "SELECT pg_advisory_xact_lock(hashtextextended('gancho tenant plugins ' || $1, 0))",
            &[&quota.tenant_id],
        )
        .await?;
    }
    execute(&tx, "SELECT pg_advisory_xact_lock(hashtextextended('gancho plugin ' || $1, 0))", &[&new.name])
        .await?;
    let latest = query(
        &tx,
        &format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugin_versions WHERE name = $1 ORDER BY version DESC LIMIT 1"
        ),
        &[&new.name],
    )
    .await?;
    let latest = latest.first().map(plugin_version).transpose()?;
    if let Some(latest) = latest.as_ref().filter(|latest| latest.digest == new.digest) {
        return Ok(latest.clone());
    }
    if let Some(quota) = &new.quota {
        let rows = query(&tx, "SELECT count(*) FROM plugin_versions WHERE name = $1", &[&new.name]).await?;
        let versions = rows[0].try_get::<_, i64>(0)? as u64;
        if versions >= quota.max_versions_per_plugin {
            return Err(StoreError::QuotaExceeded {
                quota: "max_versions_per_plugin",
                limit: quota.max_versions_per_plugin,
                used: versions,
            });
        }
        let used = tenant_plugin_usage(&tx, quota.tenant_id).await?.bytes;
        if used + new.wasm.len() as u64 > quota.max_total_bytes {
            return Err(StoreError::QuotaExceeded {
                quota: "max_plugin_bytes_total",
                limit: quota.max_total_bytes,
                used,
            });
        }
    }
    let added = PluginVersion {
        name: new.name.to_owned(),
        version: latest.map_or(1, |latest| latest.version + 1),
        digest: new.digest.to_owned(),
        size_bytes: new.wasm.len() as u64,
        created_at: new.created_at,
    };
    execute(
        &tx,
        "INSERT INTO plugin_versions (name, version, digest, size_bytes, created_at, wasm)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &added.name,
            &(added.version as i32),
            &added.digest,
            &(added.size_bytes as i64),
            &added.created_at,
            &new.wasm,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(added)
}

pub(super) async fn list_plugins(client: &Client, scope: PluginScope<'_>) -> StoreResult<Vec<PluginVersion>> {
    let latest = format!("SELECT DISTINCT ON (name) {PLUGIN_COLUMNS} FROM plugin_versions");
    let order = "ORDER BY name, version DESC";
    let rows = match scope {
        PluginScope::All => query(client, &format!("{latest} {order}"), &[]).await?,
        PluginScope::Shared => {
            query(client, &format!("{latest} WHERE strpos(name, '/') = 0 {order}"), &[]).await?
        }
        PluginScope::Tenant(tenant_id) => {
            let sql = format!("{latest} WHERE starts_with(name, $1) {order}");
            query(client, &sql, &[&tenant_plugin_prefix(tenant_id)]).await?
        }
    };
    rows.iter().map(plugin_version).collect()
}

/// The latest version of every plugin and every version a subscription pins.
const LIVE_VERSIONS_SQL: &str = "SELECT name, MAX(version) FROM plugin_versions GROUP BY name
     UNION SELECT plugin_name, plugin_version FROM subscriptions WHERE plugin_version IS NOT NULL
     UNION SELECT plugin_name, canary_version FROM subscriptions WHERE canary_version IS NOT NULL";

pub(super) async fn live_plugin_versions(client: &Client) -> StoreResult<Vec<(String, u32)>> {
    let rows = query(client, LIVE_VERSIONS_SQL, &[]).await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get::<_, i32>(1)? as u32))).collect()
}

pub(super) async fn tenant_plugin_usage(
    client: &impl GenericClient,
    tenant_id: &str,
) -> StoreResult<PluginUsage> {
    let rows = query(
        client,
        "SELECT count(*), coalesce(sum(size_bytes), 0)::bigint FROM plugin_versions
         WHERE starts_with(name, $1)",
        &[&tenant_plugin_prefix(tenant_id)],
    )
    .await?;
    Ok(PluginUsage {
        versions: rows[0].try_get::<_, i64>(0)? as u64,
        bytes: rows[0].try_get::<_, i64>(1)? as u64,
    })
}

pub(super) async fn delete_plugin_version(client: &Client, name: &str, version: u32) -> StoreResult<bool> {
    let deleted = execute(
        client,
        "DELETE FROM plugin_versions WHERE name = $1 AND version = $2
         AND version < (SELECT MAX(version) FROM plugin_versions WHERE name = $1)",
        &[&name, &(version as i32)],
    )
    .await?;
    Ok(deleted == 1)
}

pub(super) async fn list_plugin_versions(client: &Client, name: &str) -> StoreResult<Vec<PluginVersion>> {
    let rows = query(
        client,
        &format!("SELECT {PLUGIN_COLUMNS} FROM plugin_versions WHERE name = $1 ORDER BY version"),
        &[&name],
    )
    .await?;
    rows.iter().map(plugin_version).collect()
}

pub(super) async fn get_plugin(
    client: &Client,
    name: &str,
    version: Option<u32>,
) -> StoreResult<Option<(PluginVersion, Vec<u8>)>> {
    let rows = match version {
        Some(version) => {
            query(
                client,
                &format!(
                    "SELECT {PLUGIN_COLUMNS}, wasm FROM plugin_versions WHERE name = $1 AND version = $2"
                ),
                &[&name, &(version as i32)],
            )
            .await?
        }
        None => {
            query(
                client,
                &format!(
                    "SELECT {PLUGIN_COLUMNS}, wasm FROM plugin_versions WHERE name = $1
                     ORDER BY version DESC LIMIT 1"
                ),
                &[&name],
            )
            .await?
        }
    };
    rows.first().map(|row| Ok((plugin_version(row)?, row.try_get(5)?))).transpose()
}

/// A subscription's columns, as written by insert and update.
macro_rules! subscription_columns {
    () => {
        "id, tenant_id, event_types, plugin_name, plugin_version, endpoint_url, config_json, headers, secret, \
         previous_secret, previous_secret_expires_at, enabled, disabled_reason, failing_since, created_at, \
         updated_at, max_in_flight, rate_limit, paused_reason, paused_at, connections, allowed_hosts, \
         ordering_key, ordering_max_hold_secs, name, filter, notify, trace_context"
    };
}
const SUBSCRIPTION_COLUMNS: &str = subscription_columns!();
/// What is read of a subscription: its columns, then its canary (written only by the rollout operations).
const SUBSCRIPTION_SELECT: &str =
    concat!(subscription_columns!(), ", canary_rollout_id, canary_version, canary_percent");

fn subscription(row: &Row) -> StoreResult<Subscription> {
    Ok(Subscription {
        id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        event_types: row.try_get(2)?,
        plugin_name: row.try_get(3)?,
        plugin_version: row.try_get::<_, Option<i32>>(4)?.map(|version| version as u32),
        endpoint_url: row.try_get(5)?,
        config_json: row.try_get(6)?,
        headers: from_json(row.try_get(7)?)?,
        secret: row.try_get(8)?,
        previous_secret: row.try_get(9)?,
        previous_secret_expires_at: row.try_get(10)?,
        enabled: row.try_get(11)?,
        disabled_reason: row.try_get(12)?,
        failing_since: row.try_get(13)?,
        created_at: row.try_get(14)?,
        updated_at: row.try_get(15)?,
        max_in_flight: row.try_get::<_, Option<i32>>(16)?.map(|limit| limit as u32),
        rate_limit: row.try_get::<_, Option<i32>>(17)?.map(|limit| limit as u32),
        paused_reason: row.try_get(18)?,
        paused_at: row.try_get(19)?,
        connections: from_json(row.try_get(20)?)?,
        allowed_hosts: row.try_get::<_, Option<&str>>(21)?.map(from_json).transpose()?,
        ordering_key: row.try_get(22)?,
        ordering_max_hold_secs: row.try_get::<_, Option<i32>>(23)?.map(|secs| secs.max(0) as u32),
        name: row.try_get(24)?,
        filter: row.try_get::<_, Option<&str>>(25)?.map(from_json).transpose()?,
        notify: row.try_get::<_, Option<&str>>(26)?.map(from_json).transpose()?,
        trace_context: row.try_get(27)?,
        canary: match row.try_get::<_, Option<String>>(28)? {
            Some(rollout_id) => Some(Canary {
                rollout_id,
                version: row.try_get::<_, i32>(29)? as u32,
                percent: row.try_get::<_, i32>(30)? as u8,
            }),
            None => None,
        },
    })
}

/// Inserts the subscription if its tenant exists: the check and the insert are one statement.
pub(super) async fn create_subscription(client: &Client, s: &Subscription) -> StoreResult<()> {
    let missing = || format!("tenant {}", s.tenant_id);
    let inserted = execute_subscription(
        client,
        &format!(
            "INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS})
             SELECT $1::text, $2::text, $3::text[], $4::text, $5::integer, $6::text, $7::text, $8::text,
                 $9::text, $10::text, $11::bigint, $12::boolean, $13::text, $14::bigint, $15::bigint,
                 $16::bigint, $17::integer, $18::integer, $19::text, $20::bigint, $21::text, $22::text,
                 $23::text, $24::integer, $25::text, $26::text, $27::text, $28::boolean
             WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $2)"
        ),
        s,
    )
    .await?
    .map_err(constraint_error(|| format!("subscription {}", s.id), missing))?;
    if inserted == 0 { Err(StoreError::NotFound(missing())) } else { Ok(()) }
}

pub(super) async fn get_subscription(
    client: &Client,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<Subscription>> {
    let rows = query(
        client,
        &format!("SELECT {SUBSCRIPTION_SELECT} FROM subscriptions WHERE id = $1 AND tenant_id = $2"),
        &[&id, &tenant_id],
    )
    .await?;
    rows.first().map(subscription).transpose()
}

pub(super) async fn list_subscriptions(client: &Client, tenant_id: &str) -> StoreResult<Vec<Subscription>> {
    let rows = query(
        client,
        &format!(
            "SELECT {SUBSCRIPTION_SELECT} FROM subscriptions WHERE tenant_id = $1 ORDER BY created_at, id"
        ),
        &[&tenant_id],
    )
    .await?;
    rows.iter().map(subscription).collect()
}

pub(super) async fn subscriptions_following(
    client: &Client,
    plugin_name: &str,
) -> StoreResult<Vec<Subscription>> {
    let rows = query(
        client,
        &format!(
            "SELECT {SUBSCRIPTION_SELECT} FROM subscriptions WHERE plugin_name = $1 AND plugin_version IS NULL
             ORDER BY created_at, id"
        ),
        &[&plugin_name],
    )
    .await?;
    rows.iter().map(subscription).collect()
}

pub(super) async fn update_subscription(client: &Client, s: &Subscription) -> StoreResult<bool> {
    let changed = execute_subscription(
        client,
        "UPDATE subscriptions SET event_types = $3, plugin_name = $4, plugin_version = $5, endpoint_url = $6,
             config_json = $7, headers = $8, secret = $9, previous_secret = $10,
             previous_secret_expires_at = $11, enabled = $12, disabled_reason = $13, failing_since = $14,
             created_at = $15, updated_at = $16, max_in_flight = $17, rate_limit = $18,
             paused_reason = $19, paused_at = $20, connections = $21, allowed_hosts = $22,
             ordering_key = $23, ordering_max_hold_secs = $24, name = $25, filter = $26, notify = $27,
             trace_context = $28
         WHERE id = $1 AND tenant_id = $2",
        s,
    )
    .await??;
    Ok(changed == 1)
}

pub(super) async fn pause_subscription(
    client: &Client,
    tenant_id: &str,
    id: &str,
    reason: &str,
    now: Millis,
) -> StoreResult<bool> {
    let changed = execute(
        client,
        "UPDATE subscriptions SET paused_reason = $3, paused_at = $4, updated_at = $4
         WHERE id = $1 AND tenant_id = $2 AND paused_reason IS NULL",
        &[&id, &tenant_id, &reason, &now],
    )
    .await?;
    Ok(changed == 1)
}

/// Runs `statement` with a subscription's columns as `$1`…`$28`, in `SUBSCRIPTION_COLUMNS` order (shared
/// by insert and update). The outer error is encoding a column; the inner one is PostgreSQL's.
async fn execute_subscription(
    client: &Client,
    statement: &str,
    s: &Subscription,
) -> StoreResult<Result<u64, tokio_postgres::Error>> {
    let headers = to_json(&s.headers)?;
    let plugin_version = s.plugin_version.map(|version| version as i32);
    let max_in_flight = s.max_in_flight.map(|limit| limit.min(i32::MAX as u32) as i32);
    let rate_limit = s.rate_limit.map(|limit| limit.min(i32::MAX as u32) as i32);
    let connections = to_json(&s.connections)?;
    let allowed_hosts = s.allowed_hosts.as_ref().map(to_json).transpose()?;
    let max_hold_secs = s.ordering_max_hold_secs.map(|secs| secs.min(i32::MAX as u32) as i32);
    let (filter, notify) =
        (s.filter.as_ref().map(to_json).transpose()?, s.notify.as_ref().map(to_json).transpose()?);
    Ok(execute(
        client,
        statement,
        &[
            &s.id,
            &s.tenant_id,
            &s.event_types,
            &s.plugin_name,
            &plugin_version,
            &s.endpoint_url,
            &s.config_json,
            &headers,
            &s.secret,
            &s.previous_secret,
            &s.previous_secret_expires_at,
            &s.enabled,
            &s.disabled_reason,
            &s.failing_since,
            &s.created_at,
            &s.updated_at,
            &max_in_flight,
            &rate_limit,
            &s.paused_reason,
            &s.paused_at,
            &connections,
            &allowed_hosts,
            &s.ordering_key,
            &max_hold_secs,
            &s.name,
            &filter,
            &notify,
            &s.trace_context,
        ],
    )
    .await)
}

/// Deletes the subscription. Its deliveries stay as history; those still waiting can never be sent now, so
/// they are given up (`dead`, or a plugin error no longer retried) rather than left in the queue forever.
pub(super) async fn delete_subscription(client: &mut Client, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let tx = client.transaction().await?;
    let deleted =
        execute(&tx, "DELETE FROM subscriptions WHERE id = $1 AND tenant_id = $2", &[&id, &tenant_id])
            .await?;
    if deleted == 0 {
        return Ok(false);
    }
    // The trait gives this call no `now`; the clock only stamps `updated_at` of the given-up deliveries.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as Millis);
    give_up_waiting_deliveries(&tx, id, "subscription deleted", now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks the subscription's deliveries that wait for an attempt `dead` with `reason`, and stops retrying
/// its transient plugin errors.
pub(super) async fn give_up_waiting_deliveries(
    client: &impl GenericClient,
    subscription_id: &str,
    reason: &str,
    now: Millis,
) -> StoreResult<()> {
    execute(
        client,
        "UPDATE deliveries SET
             status = CASE WHEN status = 'plugin_error' THEN status ELSE 'dead' END,
             error = CASE WHEN status = 'plugin_error' THEN error ELSE $2 END,
             next_attempt_at = NULL, updated_at = $3
         WHERE subscription_id = $1
           AND (status IN ('pending', 'failed') OR (status = 'plugin_error' AND next_attempt_at IS NOT NULL))",
        &[&subscription_id, &reason, &now],
    )
    .await?;
    Ok(())
}

pub(super) async fn failing_since(client: &Client, subscription_id: &str) -> StoreResult<Option<Millis>> {
    let rows =
        query(client, "SELECT failing_since FROM subscriptions WHERE id = $1", &[&subscription_id]).await?;
    Ok(rows.first().map(|row| row.try_get::<_, Option<Millis>>(0)).transpose()?.flatten())
}
