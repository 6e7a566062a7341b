//! Tenants (the platform's customers) and their policies; their API keys and sessions are in [`super::access`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::store::PluginUsage;
use crate::tenancy::{Resolved, TenantPolicy};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};
use crate::store::Tenant;

/// Every tenant API key starts with this, so a leaked one is easy to recognise.
pub const API_KEY_PREFIX: &str = "gk_";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants", post(create_tenant).get(list_tenants))
        .route("/v1/tenants/{tenant}", get(get_tenant).patch(update_tenant))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// The id the platform uses in events' `tenant` field.
    pub id: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// What the operator set for this tenant (absent: the service's defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<TenantPolicy>,
    /// What applies to it now: its quotas and per-invocation limits.
    pub effective: Resolved,
    /// What its own plugins use of its quotas.
    pub plugin_usage: PluginUsage,
    /// The platforms whose events it has (`phone`, `chat`): its portal shows only their event types. Empty:
    /// all.
    pub platforms: Vec<String>,
}

async fn view(state: &AppState, tenant: Tenant) -> ApiResult<TenantView> {
    let effective = state.policies.resolve(tenant.policy_json.as_deref());
    let plugin_usage = state.store.tenant_plugin_usage(&tenant.id).await?;
    Ok(TenantView {
        policy: tenant.policy_json.as_deref().map(|json| TenantPolicy::from_stored(Some(json))),
        id: tenant.id,
        name: tenant.name,
        created_at: rfc3339(tenant.created_at),
        effective,
        plugin_usage,
        platforms: tenant.platforms,
    })
}

/// A change to a tenant (operator).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// Quotas on its own plugins and lower per-invocation limits; `null` returns it to the defaults.
    #[serde(default, deserialize_with = "super::subscriptions::present")]
    #[schema(value_type = Option<TenantPolicy>)]
    pub policy: Option<Option<TenantPolicy>>,
    /// The platforms whose events it has: `phone` (calls), `chat` (chats and quick replies); `[]` for all.
    pub platforms: Option<Vec<String>>,
}

/// Create a tenant (operator).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = TenantView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    caller.require_operator()?;
    let request: NewTenant = super::parse_json_body(&body)?;
    let valid_id = !request.id.is_empty()
        && request.id.len() <= 256
        && request.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !valid_id {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
            "`id` must be 1 to 256 letters, digits, `-`, `_` or `.`",
        ));
    }
    let tenant = Tenant {
        id: request.id,
        name: request.name,
        created_at: now_millis(),
        policy_json: None,
        platforms: Vec::new(),
    };
    state.store.create_tenant(&tenant).await?;
    Ok((StatusCode::CREATED, Json(view(&state, tenant).await?)))
}

/// Every tenant (operator).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    responses((status = 200, body = Vec<TenantView>), (status = 403, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list_tenants(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TenantView>>> {
    caller.require_operator()?;
    let mut views = Vec::new();
    for tenant in state.store.list_tenants().await? {
        views.push(view(&state, tenant).await?);
    }
    Ok(Json(views))
}

/// Get a tenant.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants",
    responses((status = 200, body = TenantView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantView>> {
    caller.require_tenant(&tenant)?;
    let found = find(&state, &tenant).await?;
    Ok(Json(view(&state, found).await?))
}

/// Change a tenant (operator): its policy — quotas on its own plugins (higher or lower than
/// the defaults) and per-invocation limits (only lower than the service's).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}", tag = "tenants", request_body = TenantPatch,
    responses((status = 200, body = TenantView), (status = 403, description = "Not the operator", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 422, description = "A bad field, or a limit above the service's (named)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<TenantView>> {
    caller.require_operator()?;
    let patch: TenantPatch = super::parse_json_body(&body)?;
    let mut found = find(&state, &tenant).await?;
    if let Some(policy) = patch.policy {
        if let Some((key, set, max)) =
            policy.as_ref().and_then(|p| p.limits.first_above(state.policies.defaults().1))
        {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("policy.{key}"),
                format!(
                    "policy.{key} is {set}, above the service's {max}: a tenant's limits may only be lower"
                ),
            ));
        }
        let json = policy.map(|p| serde_json::to_string(&p)).transpose().map_err(ApiError::internal)?;
        if !state.store.set_tenant_policy(&tenant, json.as_deref()).await? {
            return Err(ApiError::not_found(format!("tenant {tenant}")));
        }
        found.policy_json = json;
        state.policies.forget(&tenant);
    }
    if let Some(platforms) = patch.platforms {
        if let Some(unknown) = platforms.iter().find(|p| !crate::catalog::PLATFORMS.contains(&p.as_str())) {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "platforms",
                format!(
                    "`{unknown}` is not a platform; use {} (or [] for all)",
                    crate::catalog::PLATFORMS.join(", ")
                ),
            ));
        }
        // Each platform once, in one order: what is stored stays as small as the list of platforms.
        let mut platforms = platforms;
        platforms.sort();
        platforms.dedup();
        if !state.store.set_tenant_platforms(&tenant, &platforms).await? {
            return Err(ApiError::not_found(format!("tenant {tenant}")));
        }
        found.platforms = platforms;
    }
    Ok(Json(view(&state, found).await?))
}

/// The tenant, or a 404 naming it.
pub(super) async fn find(state: &AppState, tenant: &str) -> ApiResult<Tenant> {
    state.store.get_tenant(tenant).await?.ok_or_else(|| ApiError::not_found(format!("tenant {tenant}")))
}
