//! A subscription's health as its customer reads it: healthy, failing (since when, the last error) or
//! idle, and the share of the last day's deliveries that failed.

use serde::Serialize;

use super::{ApiResult, AppState, rfc3339};
use crate::store::Subscription;

/// The window "recent" counts over.
const RECENT_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `healthy`, `failing` (its endpoint keeps failing, or its latest delivery failed) or `idle` (nothing
    /// in the last 24 hours).
    pub state: &'static str,
    /// When its endpoint started failing without a success since.
    pub failing_since: Option<String>,
    /// The latest failure of the last 24 hours: what went wrong, its kind, when, and which delivery.
    pub last_error: Option<String>,
    pub last_error_kind: Option<String>,
    pub last_error_at: Option<String>,
    pub last_error_delivery: Option<String>,
    /// Its deliveries of the last 24 hours, and how many of them are failing now.
    pub recent: RecentCounts,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecentCounts {
    pub deliveries: u64,
    pub failed: u64,
}

pub async fn of(state: &AppState, subscription: &Subscription) -> ApiResult<HealthView> {
    let since = super::now_millis() - RECENT_MS;
    let health = state.store.subscription_health(&subscription.id, since).await?;
    let failing = subscription.failing_since.is_some() || health.latest_failed;
    let last = health.last_failure;
    Ok(HealthView {
        state: match (failing, health.deliveries) {
            (true, _) => "failing",
            (false, 0) => "idle",
            (false, _) => "healthy",
        },
        failing_since: subscription.failing_since.map(rfc3339),
        last_error: last.as_ref().and_then(|f| f.error.clone()),
        last_error_kind: last.as_ref().and_then(|f| f.error_kind.clone()),
        last_error_at: last.as_ref().map(|f| rfc3339(f.at)),
        last_error_delivery: last.map(|f| f.delivery_id),
        recent: RecentCounts { deliveries: health.deliveries, failed: health.failed },
    })
}
