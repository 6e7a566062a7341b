//! A subscription's delivery lanes as the API takes and shows them: the ordering key and its hold bound
//! (checked here), the state of its lanes, and the tenant quotas that keep one tenant's work bounded — how
//! many subscriptions it has and how often it starts replays.

use axum::http::StatusCode;
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, now_millis};
use crate::delivery::lanes::OrderingKey;
use crate::store::{LaneStatus, Subscription};

/// The hold bound a subscription may set, in seconds: a minute to a week.
const MAX_HOLD_SECS: std::ops::RangeInclusive<u32> = 60..=7 * 24 * 3600;

/// How a subscription orders its deliveries, as shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrderingView {
    /// The path into its events whose value orders their deliveries (`call.id`, `event.tenant`).
    pub key: String,
    /// How long one failing head may hold its key before it is dead-lettered.
    pub max_hold_secs: u32,
    /// Its lanes now: keys held by a failing head, and what waits behind them.
    pub lanes: LaneStatus,
}

/// The ordering key, if one is given: `null` or `""` is none.
pub(super) fn check_key(key: Option<String>) -> ApiResult<Option<String>> {
    match key.filter(|key| !key.is_empty()) {
        None => Ok(None),
        Some(key) => OrderingKey::parse(&key)
            .map(|_| Some(key))
            .map_err(|message| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "ordering_key", message)),
    }
}

pub(super) fn check_max_hold(secs: Option<u32>) -> ApiResult<Option<u32>> {
    match secs {
        Some(secs) if !MAX_HOLD_SECS.contains(&secs) => Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ordering_max_hold_secs",
            format!(
                "`ordering_max_hold_secs` must be from {} to {} (or absent for the service's {}), not {secs}",
                MAX_HOLD_SECS.start(),
                MAX_HOLD_SECS.end(),
                "delivery.ordering_max_hold_secs"
            ),
        )),
        _ => Ok(secs),
    }
}

/// The subscription's ordering as shown, with its lanes read from the store; `None` when unordered.
pub(super) async fn view(state: &AppState, subscription: &Subscription) -> ApiResult<Option<OrderingView>> {
    let Some(key) = &subscription.ordering_key else { return Ok(None) };
    Ok(Some(OrderingView {
        key: key.clone(),
        max_hold_secs: subscription
            .ordering_max_hold_secs
            .unwrap_or(state.config.delivery.ordering_max_hold_secs),
        lanes: state.store.lane_status(&subscription.id).await?,
    }))
}

/// Refuses a new subscription over the tenant's `quotas.max_subscriptions`.
pub(super) async fn check_subscription_quota(state: &AppState, tenant: &str) -> ApiResult<()> {
    let limit = state.policies.get(tenant).await.quotas.max_subscriptions;
    let used = state.store.list_subscriptions(tenant).await?.len() as u64;
    if used >= limit {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "quota_exceeded",
            format!(
                "quota max_subscriptions is {limit} and {used} is used; delete a subscription you no longer \
                 need, or ask the operator to raise quotas.max_subscriptions"
            ),
        ));
    }
    Ok(())
}

/// Counts a replay of `tenant`, or refuses it (429) over `quotas.max_replays_per_hour`.
pub(super) async fn start_replay(state: &AppState, tenant: &str) -> ApiResult<()> {
    let per_hour = state.policies.get(tenant).await.quotas.max_replays_per_hour;
    state.replays.try_start(tenant, per_hour, now_millis()).map_err(|wait_secs| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            format!(
                "quota max_replays_per_hour is {per_hour} and all are used; try again in {wait_secs} s, or \
                 replay a wider range at once"
            ),
        )
    })
}
