//! Delivery figures over a window, for charts: a subscription's (`…/subscriptions/{id}/stats`), a tenant's
//! (`…/tenants/{tenant}/stats`) and the whole service's (`/v1/stats`, operator): deliveries by outcome and
//! latency per time bucket, plugin errors by plugin version, and each destination's requests sent against
//! its budget. Counted by the store (see `store::stats`) over the deliveries made in the window.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::destinations::BudgetSetting;
use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};
use crate::delivery::budgets::{host_of_destination, known::default_budget};
use crate::store::{DeliveryStats, LATENCY_CLASSES_MS, StatsScope, StatsWindow};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/stats", get(service_stats))
        .route("/v1/tenants/{tenant}/stats", get(tenant_stats))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/stats", get(subscription_stats))
}

/// The windows offered: name, bucket length, buckets. The figures are counted from the window's
/// deliveries each time (a day of a busy tenant is tens of thousands of rows), so the longest is a day.
pub const WINDOWS: [(&str, i64, u32); 2] = [("1h", 5 * 60_000, 12), ("24h", 3_600_000, 24)];

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// `1h` (12 buckets of 5 minutes) or `24h` (24 of an hour, the default).
    pub window: Option<String>,
}

/// Deliveries of one bucket (or the whole window) by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OutcomeCounts {
    pub succeeded: u64,
    /// Failed, with a next attempt scheduled.
    pub retrying: u64,
    /// Failed, with no attempt left to make (a disabled subscription's, say).
    pub failed: u64,
    /// Given up on after the last retry.
    pub dead: u64,
    /// The plugin failed: nothing was sent.
    pub plugin_error: u64,
    /// Waiting for a first attempt, skipped by the plugin, or superseded by a re-run.
    pub other: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: &str, count: u64) {
        let slot = match outcome {
            "succeeded" => &mut self.succeeded,
            "retrying" => &mut self.retrying,
            "failed" => &mut self.failed,
            "dead" => &mut self.dead,
            "plugin_error" => &mut self.plugin_error,
            _ => &mut self.other,
        };
        *slot += count;
    }
}

/// One time bucket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BucketView {
    /// When it starts (it lasts `bucket_secs`); deliveries count in the bucket they were made in.
    pub start: String,
    pub deliveries: OutcomeCounts,
    /// From the event's receipt to the delivery's success, of the bucket's succeeded deliveries: the
    /// upper bound of the latency class holding the 50th and 99th percentile (classes from 100 ms to 7
    /// days); absent without a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<i64>,
}

/// One plugin version's errors in the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginErrorsView {
    /// `acme/crm@3`.
    pub plugin: String,
    pub count: u64,
    /// By kind (`trap`, `timeout`, `plugin_error_permanent`, …).
    pub kinds: BTreeMap<String, u64>,
}

/// One destination's pacing: requests sent per bucket against its budget.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PacingView {
    /// Its host (with the tenant before it in `/v1/stats`).
    pub destination: String,
    /// Requests sent (attempts, the paced ones too) per bucket by the window's deliveries.
    pub sent: Vec<u64>,
    /// The budget set for it, else the one assumed for its well-known API; absent: not paced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSetting>,
    /// The most its budget lets through in one bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_per_bucket: Option<u64>,
}

/// The figures of a window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsView {
    /// `1h` or `24h`.
    pub window: String,
    pub from: String,
    pub to: String,
    pub bucket_secs: i64,
    /// Oldest first.
    pub buckets: Vec<BucketView>,
    /// The whole window's deliveries by outcome.
    pub totals: OutcomeCounts,
    /// Most errors first.
    pub plugin_errors: Vec<PluginErrorsView>,
    /// Destinations sent to in the window, by name.
    pub destinations: Vec<PacingView>,
}

/// The window named by `query`, ending with the bucket that holds `now`.
pub fn window(query: &StatsQuery, now: i64) -> ApiResult<(&'static str, StatsWindow)> {
    let name = query.window.as_deref().unwrap_or("24h");
    let Some(&(name, bucket_ms, buckets)) = WINDOWS.iter().find(|(known, _, _)| *known == name) else {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "window",
            format!("`window` must be 1h or 24h, got `{name}`"),
        ));
    };
    let until = (now / bucket_ms + 1) * bucket_ms;
    Ok((name, StatsWindow { since: until - bucket_ms * i64::from(buckets), bucket_ms, buckets }))
}

/// The class bound holding the `percent`th percentile of a histogram (counts per class).
pub fn percentile(classes: &[u64], percent: u64) -> Option<i64> {
    let total: u64 = classes.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (total * percent).div_ceil(100).max(1);
    let mut seen = 0;
    for (class, count) in classes.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(LATENCY_CLASSES_MS[class.min(LATENCY_CLASSES_MS.len() - 1)]);
        }
    }
    None
}

async fn view(
    state: &AppState,
    scope: StatsScope<'_>,
    name: &str,
    window: StatsWindow,
) -> ApiResult<StatsView> {
    let stats: DeliveryStats = state.store.delivery_stats(scope, window).await?;
    let size = window.buckets as usize;
    let mut buckets: Vec<OutcomeCounts> = vec![OutcomeCounts::default(); size];
    let mut totals = OutcomeCounts::default();
    for row in &stats.outcomes {
        buckets[row.bucket as usize].add(&row.outcome, row.count);
        totals.add(&row.outcome, row.count);
    }
    let mut histograms = vec![vec![0u64; LATENCY_CLASSES_MS.len() + 1]; size];
    for row in &stats.latencies {
        histograms[row.bucket as usize][row.class.min(LATENCY_CLASSES_MS.len())] += row.count;
    }
    let buckets = buckets
        .into_iter()
        .zip(&histograms)
        .enumerate()
        .map(|(index, (deliveries, histogram))| BucketView {
            start: rfc3339(window.since + window.bucket_ms * index as i64),
            deliveries,
            latency_p50_ms: percentile(histogram, 50),
            latency_p99_ms: percentile(histogram, 99),
        })
        .collect();
    let mut plugin_errors: BTreeMap<String, PluginErrorsView> = BTreeMap::new();
    for row in &stats.plugin_errors {
        let view = plugin_errors.entry(row.plugin.clone()).or_insert_with(|| PluginErrorsView {
            plugin: row.plugin.clone(),
            count: 0,
            kinds: BTreeMap::new(),
        });
        view.count += row.count;
        let kind = if row.kind.is_empty() { "unknown" } else { row.kind.as_str() };
        *view.kinds.entry(kind.to_owned()).or_default() += row.count;
    }
    let mut plugin_errors: Vec<PluginErrorsView> = plugin_errors.into_values().collect();
    plugin_errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.plugin.cmp(&b.plugin)));
    let destinations = pacing(state, scope, window, &stats).await?;
    Ok(StatsView {
        window: name.to_owned(),
        from: rfc3339(window.since),
        to: rfc3339(window.until()),
        bucket_secs: window.bucket_ms / 1000,
        buckets,
        totals,
        plugin_errors,
        destinations,
    })
}

/// Each destination's sends per bucket, with the budget set for it (read per tenant), else its default.
async fn pacing(
    state: &AppState,
    scope: StatsScope<'_>,
    window: StatsWindow,
    stats: &DeliveryStats,
) -> ApiResult<Vec<PacingView>> {
    let mut sent: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for row in &stats.sent {
        sent.entry(row.destination.as_str()).or_insert_with(|| vec![0; window.buckets as usize])
            [row.bucket as usize] += row.count;
    }
    let mut budgets = BTreeMap::new();
    let tenants: std::collections::BTreeSet<&str> =
        sent.keys().filter_map(|destination| destination.split_once(' ').map(|(tenant, _)| tenant)).collect();
    for tenant in tenants {
        for destination in state.store.destination_states(tenant).await? {
            if let Some(budget) = destination.budget {
                budgets.insert(destination.destination, budget);
            }
        }
    }
    Ok(sent
        .into_iter()
        .map(|(destination, sent)| {
            let budget = budgets.get(destination).copied().or_else(|| default_budget(destination));
            let per_bucket =
                budget.map(|b| (i64::from(b.requests) * window.bucket_ms / b.window_ms.max(1)) as u64);
            let name = match scope {
                StatsScope::Service => destination.to_owned(),
                _ => host_of_destination(destination).to_owned(),
            };
            PacingView {
                destination: name,
                sent,
                budget: budget.map(BudgetSetting::of),
                budget_per_bucket: per_bucket,
            }
        })
        .collect())
}

/// A subscription's deliveries over a window.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/subscriptions/{id}/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 404, body = super::error::ErrorBody),
        (status = 422, description = "An unknown window", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn subscription_stats(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Json<StatsView>> {
    caller.require_tenant(&tenant)?;
    let (name, window) = window(&query, now_millis())?;
    super::rollouts::find_subscription(&state, &tenant, &id).await?;
    let scope = StatsScope::Subscription { tenant_id: &tenant, subscription_id: &id };
    Ok(Json(view(&state, scope, name, window).await?))
}

/// A tenant's deliveries over a window, all its subscriptions together.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 404, body = super::error::ErrorBody),
        (status = 422, description = "An unknown window", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenant_stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Json<StatsView>> {
    caller.require_tenant(&tenant)?;
    let (name, window) = window(&query, now_millis())?;
    if state.store.get_tenant(&tenant).await?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant}")));
    }
    Ok(Json(view(&state, StatsScope::Tenant(&tenant), name, window).await?))
}

/// The whole service's deliveries over a window (operator).
#[utoipa::path(get, path = "/v1/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 403, body = super::error::ErrorBody),
        (status = 422, description = "An unknown window", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn service_stats(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Json<StatsView>> {
    caller.require_operator()?;
    let (name, window) = window(&query, now_millis())?;
    Ok(Json(view(&state, StatsScope::Service, name, window).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_with_the_bucket_of_now_and_unknown_ones_are_refused() {
        let query = StatsQuery { window: Some("1h".to_owned()) };
        let (name, window) = window(&query, 3_600_000 + 1).unwrap();
        assert_eq!((name, window.bucket_ms, window.buckets), ("1h", 300_000, 12));
        assert_eq!(window.until(), 3_900_000);
        assert_eq!(super::window(&StatsQuery::default(), 0).unwrap().0, "24h");
        let error = super::window(&StatsQuery { window: Some("1y".to_owned()) }, 0).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("window"));
    }

    #[test]
    fn percentiles_are_the_bound_of_the_class_holding_them() {
        assert_eq!(percentile(&[0, 0], 50), None);
        // 9 under 100 ms, 1 under 1 s: the median is fast, the 99th is the slow one.
        let mut classes = vec![0; LATENCY_CLASSES_MS.len() + 1];
        classes[0] = 9;
        classes[3] = 1;
        assert_eq!(percentile(&classes, 50), Some(100));
        assert_eq!(percentile(&classes, 99), Some(1_000));
        let mut beyond = vec![0; LATENCY_CLASSES_MS.len() + 1];
        beyond[LATENCY_CLASSES_MS.len()] = 1;
        assert_eq!(percentile(&beyond, 50), Some(604_800_000));
    }
}
