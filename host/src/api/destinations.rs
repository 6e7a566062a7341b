//! A tenant's destinations as the API shows and sets them: the budget a connection sets for its hosts,
//! and each destination's state now — sending freely, paced by its budget, or paused because it asked to
//! slow down (see `delivery::budgets`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};
use crate::delivery::budgets::{host_of_destination, known::default_budget};
use crate::store::{Budget, DestinationState};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants/{tenant}/destinations", get(list))
}

/// A budget as set: at most `requests` per `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSetting {
    /// 1–100000.
    pub requests: u32,
    /// 1–86400.
    pub per_secs: u32,
}

impl BudgetSetting {
    pub(super) fn checked(self, field: &str) -> ApiResult<Budget> {
        if !(1..=100_000).contains(&self.requests) || !(1..=86_400).contains(&self.per_secs) {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                field,
                format!("`{field}` needs `requests` from 1 to 100000 and `per_secs` from 1 to 86400"),
            ));
        }
        Ok(Budget { requests: self.requests, window_ms: i64::from(self.per_secs) * 1000 })
    }

    pub(super) fn of(budget: Budget) -> BudgetSetting {
        BudgetSetting { requests: budget.requests, per_secs: (budget.window_ms / 1000).max(1) as u32 }
    }
}

/// One destination of the tenant.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DestinationView {
    pub host: String,
    /// The budget set with a connection for this host, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSetting>,
    /// The budget Gancho assumes for this well-known API when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_budget: Option<BudgetSetting>,
    /// `sending` (free now), `paced` (waiting for its next slot) or `paused` (it asked to slow down).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_slot_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<String>,
    /// Why it is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
}

fn view(state: DestinationState, now: i64) -> DestinationView {
    let paused = state.paused_until.filter(|until| *until > now);
    let paced = state.next_slot_at.filter(|at| *at > now);
    DestinationView {
        default_budget: default_budget(&state.destination).map(BudgetSetting::of),
        host: host_of_destination(&state.destination).to_owned(),
        budget: state.budget.map(BudgetSetting::of),
        state: if paused.is_some() {
            "paused"
        } else if paced.is_some() {
            "paced"
        } else {
            "sending"
        },
        next_slot_at: paced.map(rfc3339),
        paused_until: paused.map(rfc3339),
        pause_reason: paused.and(state.pause_reason),
    }
}

/// The destinations on `hosts` (all, with `None`) that have a state: a budget, pacing or a pause.
pub(super) async fn of_hosts(
    state: &AppState,
    tenant: &str,
    hosts: Option<&[String]>,
) -> ApiResult<Vec<DestinationView>> {
    let now = now_millis();
    let states = state.store.destination_states(tenant).await?;
    Ok(states
        .into_iter()
        .filter(|s| {
            hosts.is_none_or(|hosts| hosts.iter().any(|host| host == host_of_destination(&s.destination)))
        })
        .map(|s| view(s, now))
        .collect())
}

/// Sets (or clears) the budget of a connection's hosts. A wildcard host names no one destination, so a
/// budget applies to the exact hosts only.
pub(super) async fn set_budget(
    state: &AppState,
    tenant: &str,
    hosts: &[String],
    budget: Option<Budget>,
) -> ApiResult<()> {
    let destinations: Vec<String> =
        hosts.iter().filter(|host| !host.contains('*')).map(|host| format!("{tenant} {host}")).collect();
    state.store.set_destination_budget(&destinations, budget).await?;
    Ok(())
}

/// A tenant's destinations with a budget, pacing or a pause.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/destinations", tag = "connections",
    responses((status = 200, body = Vec<DestinationView>), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Vec<DestinationView>>> {
    caller.require_tenant(&tenant)?;
    Ok(Json(of_hosts(&state, &tenant, None).await?))
}
