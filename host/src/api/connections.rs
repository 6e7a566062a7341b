//! Connections: a tenant's credentials for its destinations (an API key, basic auth, an OAuth 2.0 refresh
//! token, a Google service account), each for the hosts it may be sent to. Secrets are write-only: they
//! are sealed as they arrive and no answer ever holds one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, now_millis, parse_json_body, rfc3339};
use crate::connections::{Credential, associated_data, hosts};
use crate::store::Connection;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/connections", post(create).get(list))
        .route("/v1/tenants/{tenant}/connections/{name}", get(read).patch(update).delete(remove))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// Unique per tenant; what subscriptions name (`hubspot-main`).
    pub name: String,
    /// The hosts the credential may be sent to (`api.hubapi.com`, `*.googleapis.com`); requests to any other
    /// host never carry it.
    pub hosts: Vec<String>,
    /// The secret, by `kind`: `{"kind": "header", "name", "value"}`, `{"kind": "basic", "username",
    /// "password"}`, `{"kind": "oauth2_refresh_token", "token_url", "client_id", "client_secret",
    /// "refresh_token", "scopes"}` or `{"kind": "google_service_account", "key": {the JSON key}, "scopes"}`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// The account's budget, for its exact hosts: `{"requests": 60, "per_secs": 60}`; every delivery to
    /// them, from any subscription, draws on it. Absent: the default of a well-known API, or none.
    #[serde(default)]
    pub budget: Option<super::destinations::BudgetSetting>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    /// The hosts the credential may be sent to. Only removing hosts keeps the secret; any other change
    /// needs the `credential` again in the same request.
    pub hosts: Option<Vec<String>>,
    /// A new secret (of any kind); it also repairs a broken connection.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
    /// A budget sets it for the connection's hosts; `null` clears it.
    #[serde(default, deserialize_with = "super::subscriptions::present")]
    #[schema(value_type = Option<super::destinations::BudgetSetting>, nullable)]
    pub budget: Option<Option<super::destinations::BudgetSetting>>,
}

/// A connection as the API shows it: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub name: String,
    pub kind: String,
    pub hosts: Vec<String>,
    /// `ok`, or `broken` (its grant was revoked: it needs a new credential).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_reason: Option<String>,
    /// The last failure to obtain a token, if the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refreshed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Its hosts' budgets and state: paced or paused, and why.
    pub destinations: Vec<super::destinations::DestinationView>,
}

/// The connection as shown, with its hosts' destinations.
async fn shown(state: &AppState, c: Connection) -> ApiResult<ConnectionView> {
    let destinations = super::destinations::of_hosts(state, &c.tenant_id, Some(&c.hosts)).await?;
    Ok(ConnectionView { destinations, ..view(c) })
}

fn view(c: Connection) -> ConnectionView {
    ConnectionView {
        status: if c.broken_reason.is_some() { "broken" } else { "ok" },
        name: c.name,
        kind: c.kind,
        hosts: c.hosts,
        broken_reason: c.broken_reason,
        last_error: c.last_error,
        last_used_at: c.last_used_at.map(rfc3339),
        last_refreshed_at: c.last_refreshed_at.map(rfc3339),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
        destinations: Vec::new(),
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

fn check_hosts(given: Vec<String>) -> ApiResult<Vec<String>> {
    if given.is_empty() {
        return Err(invalid("hosts", "`hosts` must name at least one host the credential may be sent to"));
    }
    given.iter().map(|host| hosts::normalize(host).map_err(|message| invalid("hosts", message))).collect()
}

/// Whether `host` (a host or a `*.` pattern) reaches nothing that `hosts` does not already reach.
fn covered(hosts: &[String], host: &str) -> bool {
    hosts.iter().any(|old| old == host || (!host.starts_with("*.") && hosts::matches(old, host)))
}

/// The credential, checked (its error names the field), never echoed back.
fn check_credential(value: serde_json::Value) -> ApiResult<Credential> {
    let credential: Credential = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "credential".to_owned() } else { format!("credential.{path}") };
        invalid(field, format!("credential: {}", e.inner()))
    })?;
    credential.validate().map_err(|(field, message)| invalid(format!("credential.{field}"), message))?;
    Ok(credential)
}

/// Seals `credential` for `tenant`'s connection `name`, or says keys must be configured first.
fn seal(
    state: &AppState,
    tenant: &str,
    name: &str,
    credential: &Credential,
) -> ApiResult<(String, Vec<u8>, Vec<u8>)> {
    let sealer = state.connections.sealer().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "connections_not_configured",
            "this service keeps no connections yet: it has no key to encrypt their credentials. Until it does, \
             put the credential in the subscription's headers; the service's operator can turn connections on \
             (connections.keys, GANCHO_CONNECTIONS__KEYS=k1:<32 random bytes in base64>, then a restart)",
        )
    })?;
    let plain = serde_json::to_vec(credential).map_err(ApiError::internal)?;
    let sealed = sealer.seal(&plain, &associated_data(tenant, name));
    Ok((sealed.key_id, sealed.nonce, sealed.ciphertext))
}

/// Create a connection (operator, or the tenant's own key). The answer never holds the secret.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/connections", tag = "connections", request_body = NewConnection,
    responses((status = 201, body = ConnectionView), (status = 404, description = "No such tenant (or not yours)", body = super::error::ErrorBody),
        (status = 409, description = "The name is taken", body = super::error::ErrorBody),
        (status = 422, description = "A bad field (named)", body = super::error::ErrorBody),
        (status = 503, description = "No encryption key is configured", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<axum::response::Response> {
    caller.require_tenant(&tenant)?;
    super::idempotency::once(&state, &tenant, &headers, "connections", &body, || {
        create_connection(state.clone(), tenant.clone(), &body)
    })
    .await
}

async fn create_connection(
    state: AppState,
    tenant: String,
    body: &[u8],
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let request: NewConnection = parse_json_body(body)?;
    super::check_name("connection", &request.name)?;
    let hosts = check_hosts(request.hosts)?;
    let credential = check_credential(request.credential)?;
    let budget = request.budget.map(|budget| budget.checked("budget")).transpose()?;
    let (key_id, nonce, sealed) = seal(&state, &tenant, &request.name, &credential)?;
    let now = now_millis();
    let connection = Connection {
        tenant_id: tenant,
        name: request.name,
        kind: credential.kind().to_owned(),
        hosts,
        key_id,
        nonce,
        sealed,
        broken_reason: None,
        last_error: None,
        last_used_at: None,
        last_refreshed_at: None,
        created_at: now,
        updated_at: now,
    };
    state.store.create_connection(&connection).await?;
    if budget.is_some() {
        super::destinations::set_budget(&state, &connection.tenant_id, &connection.hosts, budget).await?;
    }
    Ok((StatusCode::CREATED, Json(shown(&state, connection).await?)))
}

/// A tenant's connections (never their secrets).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections", tag = "connections",
    responses((status = 200, body = Vec<ConnectionView>), (status = 404, description = "No such tenant (or not yours)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Vec<ConnectionView>>> {
    caller.require_tenant(&tenant)?;
    let mut shown_all = Vec::new();
    for connection in state.store.list_connections(&tenant).await? {
        shown_all.push(shown(&state, connection).await?);
    }
    Ok(Json(shown_all))
}

async fn find(state: &AppState, tenant: &str, name: &str) -> ApiResult<Connection> {
    state
        .store
        .get_connection(tenant, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("connection {name}")))
}

/// One connection: its kind, hosts, last use, last refresh and last error (never its secret).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/connections/{name}", tag = "connections",
    responses((status = 200, body = ConnectionView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionView>> {
    caller.require_tenant(&tenant)?;
    Ok(Json(shown(&state, find(&state, &tenant, &name).await?).await?))
}

/// Change a connection's hosts or replace its secret (which repairs a broken connection).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/connections/{name}", tag = "connections", request_body = ConnectionPatch,
    responses((status = 200, body = ConnectionView), (status = 404, body = super::error::ErrorBody),
        (status = 422, description = "A bad field (named); `credential` when new hosts are given without it", body = super::error::ErrorBody),
        (status = 503, description = "No encryption key is configured", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ConnectionView>> {
    caller.require_tenant(&tenant)?;
    let patch: ConnectionPatch = parse_json_body(&body)?;
    let mut connection = find(&state, &tenant, &name).await?;
    let budget = patch.budget.map(|budget| budget.map(|b| b.checked("budget")).transpose()).transpose()?;
    if let Some(given) = patch.hosts {
        let hosts = check_hosts(given)?;
        // A secret was given for its hosts: whoever may edit the connection must not be able to send it
        // to a host of their choosing without knowing it.
        let new: Vec<&String> = hosts.iter().filter(|host| !covered(&connection.hosts, host)).collect();
        if !new.is_empty() && patch.credential.is_none() {
            let new = new.iter().map(|host| format!("`{host}`")).collect::<Vec<_>>().join(", ");
            return Err(invalid(
                "credential",
                format!(
                    "connection `{name}` would go to {new}, which it does not go to now: send its `credential` \
                     again with the new `hosts` (only removing hosts keeps the secret)"
                ),
            ));
        }
        connection.hosts = hosts;
    }
    if let Some(value) = patch.credential {
        let credential = check_credential(value)?;
        (connection.key_id, connection.nonce, connection.sealed) = seal(&state, &tenant, &name, &credential)?;
        connection.kind = credential.kind().to_owned();
        (connection.broken_reason, connection.last_error) = (None, None);
    }
    connection.updated_at = now_millis().max(connection.updated_at + 1);
    if !state.store.update_connection(&connection).await? {
        return Err(ApiError::not_found(format!("connection {name}")));
    }
    state.connections.forget(&tenant, &name);
    if let Some(budget) = budget {
        super::destinations::set_budget(&state, &tenant, &connection.hosts, budget).await?;
    }
    Ok(Json(shown(&state, connection).await?))
}

/// Delete a connection no subscription uses.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/connections/{name}", tag = "connections",
    responses((status = 204, description = "Deleted"), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "A subscription uses it (named)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_tenant(&tenant)?;
    find(&state, &tenant, &name).await?;
    let subscriptions = state.store.list_subscriptions(&tenant).await?;
    if let Some(user) = subscriptions.iter().find(|s| s.connections.contains(&name)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "in_use",
            format!(
                "subscription {} uses connection `{name}`; remove it from the subscription first",
                user.id
            ),
        ));
    }
    state.store.delete_connection(&tenant, &name).await?;
    state.connections.forget(&tenant, &name);
    Ok(StatusCode::NO_CONTENT)
}
