//! Tenants, their API keys, plugin versions and subscriptions: the rows the admin API manages.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{conflict_as, json_column, optional_json_column, to_json};
use crate::store::{
    Canary, Millis, NewPluginVersion, PluginScope, PluginUsage, PluginVersion, StoreError, StoreResult,
    Subscription, Tenant, tenant_plugin_prefix,
};

pub(super) fn create_tenant(conn: &Connection, tenant: &Tenant) -> StoreResult<()> {
    let platforms = (!tenant.platforms.is_empty()).then(|| to_json(&tenant.platforms)).transpose()?;
    conn.prepare_cached(
        "INSERT INTO tenants (id, name, created_at, policy, platforms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![tenant.id, tenant.name, tenant.created_at, tenant.policy_json, platforms])
    .map_err(conflict_as(|| format!("tenant {}", tenant.id)))?;
    Ok(())
}

pub(super) fn get_tenant(conn: &Connection, id: &str) -> StoreResult<Option<Tenant>> {
    Ok(conn
        .prepare_cached("SELECT id, name, created_at, policy, platforms FROM tenants WHERE id = ?1")?
        .query_row([id], tenant)
        .optional()?)
}

/// A tenant from the columns `id, name, created_at, policy, platforms`.
fn tenant(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    let platforms: Option<Vec<String>> = optional_json_column(row, 4)?;
    Ok(Tenant {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: row.get(2)?,
        policy_json: row.get(3)?,
        platforms: platforms.unwrap_or_default(),
    })
}

pub(super) fn list_tenants(conn: &Connection) -> StoreResult<Vec<Tenant>> {
    let mut statement =
        conn.prepare_cached("SELECT id, name, created_at, policy, platforms FROM tenants ORDER BY id")?;
    Ok(statement.query_map([], tenant)?.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn set_tenant_policy(conn: &Connection, id: &str, policy_json: Option<&str>) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("UPDATE tenants SET policy = ?2 WHERE id = ?1")?
        .execute(params![id, policy_json])?
        == 1)
}

pub(super) fn set_tenant_platforms(conn: &Connection, id: &str, platforms: &[String]) -> StoreResult<bool> {
    let platforms = (!platforms.is_empty()).then(|| to_json(platforms)).transpose()?;
    Ok(conn
        .prepare_cached("UPDATE tenants SET platforms = ?2 WHERE id = ?1")?
        .execute(params![id, platforms])?
        == 1)
}

fn require_tenant(conn: &Connection, id: &str) -> StoreResult<()> {
    if tenant_exists(conn, id)? { Ok(()) } else { Err(StoreError::NotFound(format!("tenant {id}"))) }
}

pub(super) fn tenant_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM tenants WHERE id = ?1")?.exists([id])?)
}

pub(super) fn create_api_key(
    conn: &Connection,
    tenant_id: &str,
    key_sha256: &str,
    prefix: &str,
    created_at: Millis,
) -> StoreResult<()> {
    require_tenant(conn, tenant_id)?;
    conn.prepare_cached(
        "INSERT INTO api_keys (key_sha256, tenant_id, created_at, prefix) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![key_sha256, tenant_id, created_at, prefix])
    .map_err(conflict_as(|| "api key".to_owned()))?;
    Ok(())
}

pub(super) fn tenant_for_api_key(conn: &Connection, key_sha256: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT tenant_id FROM api_keys WHERE key_sha256 = ?1")?
        .query_row([key_sha256], |row| row.get(0))
        .optional()?)
}

const PLUGIN_COLUMNS: &str = "name, version, digest, size_bytes, created_at";

fn plugin_version(row: &Row<'_>) -> rusqlite::Result<PluginVersion> {
    Ok(PluginVersion {
        name: row.get(0)?,
        version: row.get(1)?,
        digest: row.get(2)?,
        size_bytes: row.get(3)?,
        created_at: row.get(4)?,
    })
}

fn latest_plugin_version(conn: &Connection, name: &str) -> StoreResult<Option<PluginVersion>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugin_versions WHERE name = ?1 ORDER BY version DESC LIMIT 1"
        ))?
        .query_row([name], plugin_version)
        .optional()?)
}

pub(super) fn add_plugin_version(
    conn: &Connection,
    new: &NewPluginVersion<'_>,
) -> StoreResult<PluginVersion> {
    let latest = latest_plugin_version(conn, new.name)?;
    if let Some(latest) = latest.as_ref().filter(|latest| latest.digest == new.digest) {
        return Ok(latest.clone());
    }
    if let Some(quota) = &new.quota {
        let versions: u64 = conn
            .prepare_cached("SELECT count(*) FROM plugin_versions WHERE name = ?1")?
            .query_row([new.name], |row| row.get(0))?;
        if versions >= quota.max_versions_per_plugin {
            return Err(StoreError::QuotaExceeded {
                quota: "max_versions_per_plugin",
                limit: quota.max_versions_per_plugin,
                used: versions,
            });
        }
        let used = tenant_plugin_usage(conn, quota.tenant_id)?.bytes;
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
    conn.prepare_cached(
        "INSERT INTO plugin_versions (name, version, digest, size_bytes, created_at, wasm)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        added.name,
        added.version,
        added.digest,
        added.size_bytes,
        added.created_at,
        new.wasm
    ])?;
    Ok(added)
}

/// The `[from, to)` range of names that are `tenant_id`'s own plugins (`/` + 1 is `0`), which walks
/// the primary key.
fn tenant_name_range(tenant_id: &str) -> (String, String) {
    (tenant_plugin_prefix(tenant_id), format!("{tenant_id}0"))
}

pub(super) fn list_plugins(conn: &Connection, scope: PluginScope<'_>) -> StoreResult<Vec<PluginVersion>> {
    let latest = format!(
        "SELECT {PLUGIN_COLUMNS} FROM plugin_versions AS p
         WHERE version = (SELECT MAX(version) FROM plugin_versions WHERE name = p.name)"
    );
    let (from, to) = match scope {
        PluginScope::Tenant(tenant_id) => tenant_name_range(tenant_id),
        _ => Default::default(),
    };
    let mut statement = conn.prepare_cached(&match scope {
        PluginScope::All => format!("{latest} ORDER BY name"),
        PluginScope::Shared => format!("{latest} AND instr(name, '/') = 0 ORDER BY name"),
        PluginScope::Tenant(_) => format!("{latest} AND name >= ?1 AND name < ?2 ORDER BY name"),
    })?;
    let rows = match scope {
        PluginScope::Tenant(_) => statement.query_map(params![from, to], plugin_version)?,
        _ => statement.query_map([], plugin_version)?,
    };
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest version of every plugin and every version a subscription pins.
const LIVE_VERSIONS_SQL: &str = "SELECT name, MAX(version) FROM plugin_versions GROUP BY name
     UNION SELECT plugin_name, plugin_version FROM subscriptions WHERE plugin_version IS NOT NULL
     UNION SELECT plugin_name, canary_version FROM subscriptions WHERE canary_version IS NOT NULL";

pub(super) fn live_plugin_versions(conn: &Connection) -> StoreResult<Vec<(String, u32)>> {
    let mut statement = conn.prepare_cached(LIVE_VERSIONS_SQL)?;
    Ok(statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?)
}

pub(super) fn tenant_plugin_usage(conn: &Connection, tenant_id: &str) -> StoreResult<PluginUsage> {
    let (from, to) = tenant_name_range(tenant_id);
    Ok(conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(size_bytes), 0) FROM plugin_versions WHERE name >= ?1 AND name < ?2",
        )?
        .query_row(params![from, to], |row| Ok(PluginUsage { versions: row.get(0)?, bytes: row.get(1)? }))?)
}

pub(super) fn delete_plugin_version(conn: &Connection, name: &str, version: u32) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM plugin_versions WHERE name = ?1 AND version = ?2
             AND version < (SELECT MAX(version) FROM plugin_versions WHERE name = ?1)",
        )?
        .execute(params![name, version])?
        == 1)
}

pub(super) fn list_plugin_versions(conn: &Connection, name: &str) -> StoreResult<Vec<PluginVersion>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {PLUGIN_COLUMNS} FROM plugin_versions WHERE name = ?1 ORDER BY version"
    ))?;
    Ok(statement.query_map([name], plugin_version)?.collect::<Result<_, _>>()?)
}

pub(super) fn get_plugin(
    conn: &Connection,
    name: &str,
    version: Option<u32>,
) -> StoreResult<Option<(PluginVersion, Vec<u8>)>> {
    let with_wasm = |row: &Row<'_>| Ok((plugin_version(row)?, row.get(5)?));
    Ok(match version {
        Some(version) => conn
            .prepare_cached(&format!(
                "SELECT {PLUGIN_COLUMNS}, wasm FROM plugin_versions WHERE name = ?1 AND version = ?2"
            ))?
            .query_row(params![name, version], with_wasm)
            .optional()?,
        None => conn
            .prepare_cached(&format!(
                "SELECT {PLUGIN_COLUMNS}, wasm FROM plugin_versions WHERE name = ?1
                 ORDER BY version DESC LIMIT 1"
            ))?
            .query_row([name], with_wasm)
            .optional()?,
    })
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

fn subscription(row: &Row<'_>) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        event_types: json_column(row, 2)?,
        plugin_name: row.get(3)?,
        plugin_version: row.get(4)?,
        endpoint_url: row.get(5)?,
        config_json: row.get(6)?,
        headers: json_column(row, 7)?,
        secret: row.get(8)?,
        previous_secret: row.get(9)?,
        previous_secret_expires_at: row.get(10)?,
        enabled: row.get(11)?,
        disabled_reason: row.get(12)?,
        failing_since: row.get(13)?,
        created_at: row.get(14)?,
        updated_at: row.get(15)?,
        max_in_flight: row.get(16)?,
        rate_limit: row.get(17)?,
        paused_reason: row.get(18)?,
        paused_at: row.get(19)?,
        connections: json_column(row, 20)?,
        allowed_hosts: optional_json_column(row, 21)?,
        ordering_key: row.get(22)?,
        ordering_max_hold_secs: row.get(23)?,
        name: row.get(24)?,
        filter: optional_json_column(row, 25)?,
        notify: optional_json_column(row, 26)?,
        trace_context: row.get(27)?,
        canary: match row.get::<_, Option<String>>(28)? {
            Some(rollout_id) => Some(Canary { rollout_id, version: row.get(29)?, percent: row.get(30)? }),
            None => None,
        },
    })
}

pub(super) fn create_subscription(conn: &Connection, s: &Subscription) -> StoreResult<()> {
    require_tenant(conn, &s.tenant_id)?;
    let mut statement = conn.prepare_cached(&format!(
        "INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
             ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
    ))?;
    execute_subscription(&mut statement, s)?.map_err(conflict_as(|| format!("subscription {}", s.id)))?;
    Ok(())
}

/// Runs `statement` with a subscription's columns as `?1`…`?28`, in `SUBSCRIPTION_COLUMNS` order (shared
/// by insert and update). The outer error is encoding a column; the inner one is SQLite's.
fn execute_subscription(
    statement: &mut rusqlite::CachedStatement<'_>,
    s: &Subscription,
) -> StoreResult<rusqlite::Result<usize>> {
    let (event_types, headers) = (to_json(&s.event_types)?, to_json(&s.headers)?);
    let connections = to_json(&s.connections)?;
    let allowed_hosts = s.allowed_hosts.as_ref().map(to_json).transpose()?;
    let (filter, notify) =
        (s.filter.as_ref().map(to_json).transpose()?, s.notify.as_ref().map(to_json).transpose()?);
    Ok(statement.execute(params![
        s.id,
        s.tenant_id,
        event_types,
        s.plugin_name,
        s.plugin_version,
        s.endpoint_url,
        s.config_json,
        headers,
        s.secret,
        s.previous_secret,
        s.previous_secret_expires_at,
        s.enabled,
        s.disabled_reason,
        s.failing_since,
        s.created_at,
        s.updated_at,
        s.max_in_flight,
        s.rate_limit,
        s.paused_reason,
        s.paused_at,
        connections,
        allowed_hosts,
        s.ordering_key,
        s.ordering_max_hold_secs,
        s.name,
        filter,
        notify,
        s.trace_context,
    ]))
}

pub(super) fn get_subscription(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<Subscription>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_SELECT} FROM subscriptions WHERE id = ?1 AND tenant_id = ?2"
        ))?
        .query_row([id, tenant_id], subscription)
        .optional()?)
}

pub(super) fn list_subscriptions(conn: &Connection, tenant_id: &str) -> StoreResult<Vec<Subscription>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIPTION_SELECT} FROM subscriptions WHERE tenant_id = ?1 ORDER BY created_at, id"
    ))?;
    Ok(statement.query_map([tenant_id], subscription)?.collect::<Result<_, _>>()?)
}

pub(super) fn subscriptions_following(
    conn: &Connection,
    plugin_name: &str,
) -> StoreResult<Vec<Subscription>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIPTION_SELECT} FROM subscriptions WHERE plugin_name = ?1 AND plugin_version IS NULL
         ORDER BY created_at, id"
    ))?;
    Ok(statement.query_map([plugin_name], subscription)?.collect::<Result<_, _>>()?)
}

pub(super) fn update_subscription(conn: &Connection, s: &Subscription) -> StoreResult<bool> {
    let mut statement = conn.prepare_cached(
        "UPDATE subscriptions SET event_types = ?3, plugin_name = ?4, plugin_version = ?5,
             endpoint_url = ?6, config_json = ?7, headers = ?8, secret = ?9, previous_secret = ?10,
             previous_secret_expires_at = ?11, enabled = ?12, disabled_reason = ?13, failing_since = ?14,
             created_at = ?15, updated_at = ?16, max_in_flight = ?17, rate_limit = ?18,
             paused_reason = ?19, paused_at = ?20, connections = ?21, allowed_hosts = ?22,
             ordering_key = ?23, ordering_max_hold_secs = ?24, name = ?25, filter = ?26, notify = ?27,
             trace_context = ?28
         WHERE id = ?1 AND tenant_id = ?2",
    )?;
    let changed = execute_subscription(&mut statement, s)??;
    Ok(changed == 1)
}

pub(super) fn pause_subscription(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    reason: &str,
    now: Millis,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE subscriptions SET paused_reason = ?3, paused_at = ?4, updated_at = ?4
             WHERE id = ?1 AND tenant_id = ?2 AND paused_reason IS NULL",
        )?
        .execute(params![id, tenant_id, reason, now])?;
    Ok(changed == 1)
}

/// Deletes the subscription. Its deliveries stay as history; those still waiting can never be sent now, so
/// they are given up (`dead`, or a plugin error no longer retried) rather than left in the queue forever.
pub(super) fn delete_subscription(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1 AND tenant_id = ?2")?
        .execute([id, tenant_id])?;
    if deleted == 0 {
        return Ok(false);
    }
    // The trait gives this call no `now`; the clock only stamps `updated_at` of the given-up deliveries.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as Millis);
    give_up_waiting_deliveries(conn, id, "subscription deleted", now)?;
    Ok(true)
}

/// Marks the subscription's deliveries that wait for an attempt `dead` with `reason`, and stops retrying
/// its transient plugin errors.
pub(super) fn give_up_waiting_deliveries(
    conn: &Connection,
    subscription_id: &str,
    reason: &str,
    now: Millis,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE deliveries SET
             status = CASE WHEN status = 'plugin_error' THEN status ELSE 'dead' END,
             error = CASE WHEN status = 'plugin_error' THEN error ELSE ?2 END,
             next_attempt_at = NULL, updated_at = ?3
         WHERE subscription_id = ?1
           AND (status IN ('pending', 'failed') OR (status = 'plugin_error' AND next_attempt_at IS NOT NULL))",
    )?
    .execute(params![subscription_id, reason, now])?;
    Ok(())
}

pub(super) fn failing_since(conn: &Connection, subscription_id: &str) -> StoreResult<Option<Millis>> {
    Ok(conn
        .prepare_cached("SELECT failing_since FROM subscriptions WHERE id = ?1")?
        .query_row([subscription_id], |row| row.get(0))
        .optional()?
        .flatten())
}
