//! Delivery figures for the charts (see `store::stats`), on SQLite.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::store::stats::stats_sql;
use crate::store::{
    DeliveryStats, LatencyCount, OutcomeCount, PluginErrorCount, SentCount, StatsScope, StatsWindow,
    StoreResult,
};

/// The scope, owned, so that it can cross into the blocking thread.
pub(super) enum OwnedScope {
    Service,
    Tenant(String),
    Subscription(String, String),
}

impl OwnedScope {
    pub(super) fn of(scope: StatsScope<'_>) -> OwnedScope {
        match scope {
            StatsScope::Service => OwnedScope::Service,
            StatsScope::Tenant(tenant) => OwnedScope::Tenant(tenant.to_owned()),
            StatsScope::Subscription { tenant_id, subscription_id } => {
                OwnedScope::Subscription(tenant_id.to_owned(), subscription_id.to_owned())
            }
        }
    }

    fn scope(&self) -> StatsScope<'_> {
        match self {
            OwnedScope::Service => StatsScope::Service,
            OwnedScope::Tenant(tenant) => StatsScope::Tenant(tenant),
            OwnedScope::Subscription(tenant_id, subscription_id) => {
                StatsScope::Subscription { tenant_id, subscription_id }
            }
        }
    }
}

pub(super) fn delivery_stats(
    conn: &Connection,
    scope: &OwnedScope,
    window: StatsWindow,
) -> StoreResult<DeliveryStats> {
    let sql = stats_sql(scope.scope());
    let mut params =
        vec![Value::from(window.since), Value::from(window.bucket_ms), Value::from(window.until())];
    match scope {
        OwnedScope::Service => {}
        OwnedScope::Tenant(tenant) => params.push(Value::from(tenant.clone())),
        OwnedScope::Subscription(tenant, subscription) => {
            params.push(Value::from(tenant.clone()));
            params.push(Value::from(subscription.clone()));
        }
    }
    let bucket = |value: i64| value.clamp(0, i64::from(window.buckets) - 1) as u32;
    let mut stats = DeliveryStats::default();
    let mut outcomes = conn.prepare_cached(&sql.outcomes)?;
    for row in outcomes.query_map(params_from_iter(&params), |row| {
        Ok(OutcomeCount {
            bucket: bucket(row.get(0)?),
            outcome: row.get(1)?,
            count: row.get::<_, i64>(2)? as u64,
        })
    })? {
        stats.outcomes.push(row?);
    }
    let mut latencies = conn.prepare_cached(&sql.latencies)?;
    for row in latencies.query_map(params_from_iter(&params), |row| {
        Ok(LatencyCount {
            bucket: bucket(row.get(0)?),
            class: row.get::<_, i64>(1)? as usize,
            count: row.get::<_, i64>(2)? as u64,
        })
    })? {
        stats.latencies.push(row?);
    }
    let mut errors = conn.prepare_cached(&sql.plugin_errors)?;
    for row in errors.query_map(params_from_iter(&params), |row| {
        Ok(PluginErrorCount { plugin: row.get(0)?, kind: row.get(1)?, count: row.get::<_, i64>(2)? as u64 })
    })? {
        stats.plugin_errors.push(row?);
    }
    let mut sent = conn.prepare_cached(&sql.sent)?;
    for row in sent.query_map(params_from_iter(&params), |row| {
        Ok(SentCount {
            destination: row.get(0)?,
            bucket: bucket(row.get(1)?),
            count: row.get::<_, i64>(2)? as u64,
        })
    })? {
        stats.sent.push(row?);
    }
    Ok(stats)
}
