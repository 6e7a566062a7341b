//! Delivery figures for the charts (see `store::stats`), on PostgreSQL.

use deadpool_postgres::Client;

use super::{Param, query};
use crate::store::stats::{postgres_params, stats_sql};
use crate::store::{
    DeliveryStats, LatencyCount, OutcomeCount, PluginErrorCount, SentCount, StatsScope, StatsWindow,
    StoreResult,
};

pub(super) async fn delivery_stats(
    client: &Client,
    scope: StatsScope<'_>,
    window: StatsWindow,
) -> StoreResult<DeliveryStats> {
    let sql = stats_sql(scope);
    let until = window.until();
    let mut params: Vec<Param<'_>> = vec![&window.since, &window.bucket_ms, &until];
    match &scope {
        StatsScope::Service => {}
        StatsScope::Tenant(tenant) => params.push(tenant),
        StatsScope::Subscription { tenant_id, subscription_id } => {
            params.push(tenant_id);
            params.push(subscription_id);
        }
    }
    let bucket = |value: i64| value.clamp(0, i64::from(window.buckets) - 1) as u32;
    let mut stats = DeliveryStats::default();
    for row in query(client, &postgres_params(&sql.outcomes), &params).await? {
        stats.outcomes.push(OutcomeCount {
            bucket: bucket(row.try_get(0)?),
            outcome: row.try_get(1)?,
            count: row.try_get::<_, i64>(2)? as u64,
        });
    }
    for row in query(client, &postgres_params(&sql.latencies), &params).await? {
        stats.latencies.push(LatencyCount {
            bucket: bucket(row.try_get(0)?),
            class: row.try_get::<_, i32>(1)? as usize,
            count: row.try_get::<_, i64>(2)? as u64,
        });
    }
    for row in query(client, &postgres_params(&sql.plugin_errors), &params).await? {
        stats.plugin_errors.push(PluginErrorCount {
            plugin: row.try_get(0)?,
            kind: row.try_get(1)?,
            count: row.try_get::<_, i64>(2)? as u64,
        });
    }
    for row in query(client, &postgres_params(&sql.sent), &params).await? {
        stats.sent.push(SentCount {
            destination: row.try_get(0)?,
            bucket: bucket(row.try_get(1)?),
            count: row.try_get::<_, i64>(2)? as u64,
        });
    }
    Ok(stats)
}
