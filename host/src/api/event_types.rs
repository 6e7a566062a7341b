//! The event catalog as a tenant sees it (the types of its platforms, their fields and samples), and the
//! checks a subscription's event types and filter pass against it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, Caller};
use crate::catalog::{self, EventType};
use crate::conditions::{self, Filter};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants/{tenant}/event-types", get(list))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventTypes {
    /// The platforms the tenant has (empty: all, and every type is listed).
    pub platforms: Vec<String>,
    pub event_types: Vec<EventType>,
}

/// The event types a tenant's platforms send, with their fields (for filters and templates) and a sample.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/event-types", tag = "subscriptions",
    responses((status = 200, body = EventTypes), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<EventTypes>> {
    caller.require_tenant(&tenant)?;
    let found = super::tenants::find(&state, &tenant).await?;
    let event_types = catalog::for_platforms(&found.platforms);
    Ok(Json(EventTypes { platforms: found.platforms, event_types }))
}

/// Refuses an event type the catalog does not have (`call.missed`, or `invoice.*` matching none of its
/// types), unless the subscription says its platform sends other types.
pub fn check_known(patterns: &[String], custom_types: bool) -> ApiResult<()> {
    if custom_types {
        return Ok(());
    }
    let unknown = patterns.iter().enumerate().find(|(_, pattern)| {
        !catalog::EVENT_TYPES.iter().any(|known| crate::pipeline::event_type_matches(pattern, known))
    });
    match unknown {
        None => Ok(()),
        Some((index, pattern)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_event_type",
            format!(
                "`{pattern}` is not an event type of the catalog ({}); a filter chooses among an event's \
                 values (a missed call is `call.ended` with `call.status` `missed`). If your platform sends \
                 other types, send `\"custom_event_types\": true`",
                catalog::EVENT_TYPES.join(", ")
            ),
        )
        .with_field(format!("event_types[{index}]"))),
    }
}

/// Checks a filter against the subscription's event types: a 422 `invalid_filter` naming the condition.
pub fn check_filter(
    filter: Option<serde_json::Value>,
    event_types: &[String],
    custom_types: bool,
) -> ApiResult<Option<Filter>> {
    match filter {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value) => conditions::check(value, event_types, custom_types).map(Some).map_err(|error| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter", error.message)
                .with_field(error.field)
        }),
    }
}
