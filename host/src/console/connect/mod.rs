//! The portal's *Connect* buttons: the authorization-code flow with PKCE that turns a customer's consent at
//! HubSpot (or any configured provider) into a connection, *Reconnect* for a broken one, and a Google
//! service account added by uploading its JSON key. The flow's secrets are kept by
//! [`crate::connections::oauth_flow`]; the connection is stored through the API's own operations, sealed
//! as every connection is.
//!
//! - `GET /console/t/{tenant}/connections/connect/{provider}?csrf=…[&connection=…]`: begins a flow (303 to
//!   the provider).
//! - `GET /console/connect/callback?code=…&state=…`: the redirect URI registered at the provider.
//! - `POST /console/t/{tenant}/connections/service-account?name=…&hosts=…&scopes=…`: the key file as body.
//!
//! [`view`] draws the page's parts, [`texts`] holds their words.

pub mod texts;
pub mod view;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use super::layout::error_page;
use super::portal::path;
use crate::api::{ApiError, ApiResult, AppState, connections};
use crate::connections::oauth_apps::{Provider, providers};
use crate::connections::oauth_flow::{Refusal, authorize_url};
use crate::connections::{ConnectionError, Credential};

/// The largest service-account key file read; Google's are about 2.3 KiB.
pub const MAX_KEY_FILE_BYTES: usize = 16 * 1024;
/// The callback's path, part of the redirect URI registered at each provider.
pub const CALLBACK_PATH: &str = "/console/connect/callback";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{tenant}/connections/connect/{provider}", get(begin))
        .route(CALLBACK_PATH, get(callback))
        .route("/console/t/{tenant}/connections/service-account", post(service_account))
}

/// The configured providers (checked at start, so an error here cannot happen).
pub(super) fn configured(state: &AppState) -> Vec<Provider> {
    providers(&state.config.connections.oauth).unwrap_or_default()
}

#[derive(Deserialize)]
struct BeginQuery {
    csrf: String,
    /// The broken connection to repair.
    connection: Option<String>,
}

/// Starts a sign-in at `provider` for this session, and sends the browser there.
async fn begin(
    ctx: Ctx,
    Path((tenant, provider)): Path<(String, String)>,
    Query(query): Query<BeginQuery>,
    headers: HeaderMap,
) -> Response {
    // The link carries the session's CSRF token: another site cannot start a sign-in in her name.
    if !crate::api::same_secret(&query.csrf, &ctx.session.csrf) {
        return ctx.error(ApiError::forbidden("open Connect from the Connections page"));
    }
    if let Err(error) = ctx.caller().require_tenant(&tenant) {
        return ctx.error(error);
    }
    let Some(provider) = configured(&ctx.state).into_iter().find(|p| p.id == provider) else {
        return ctx.error(ApiError::not_found(format!("provider {provider}")));
    };
    if let Some(name) = &query.connection {
        let read =
            connections::read(State(ctx.state.clone()), ctx.caller(), Path((tenant.clone(), name.clone())))
                .await;
        if let Err(error) = read {
            return ctx.error(error);
        }
    }
    let redirect_uri = redirect_uri(&ctx.state, &headers);
    let started = ctx.state.oauth_flows.begin(
        &ctx.session.csrf,
        &tenant,
        &provider.id,
        query.connection.as_deref(),
        &redirect_uri,
    );
    match started {
        Ok(started) => Redirect::to(&authorize_url(&provider, &redirect_uri, &started)).into_response(),
        Err(why) => error_page(&ctx, StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

/// `console.public_url`, else this request's `Host` (https when cookies are marked Secure), + the callback.
fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    let base = state.config.console.public_base().ok().flatten().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let scheme = if state.config.console.secure_cookies { "https" } else { "http" };
        format!("{scheme}://{host}")
    });
    format!("{base}{CALLBACK_PATH}")
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    state: String,
    code: Option<String>,
    /// The provider's refusal (`access_denied` when she declined).
    error: Option<String>,
}

/// The provider sent her back: the `state` must be this session's, unused and recent; then the code is
/// exchanged here and the connection stored (or repaired). Any refusal stores nothing.
async fn callback(ctx: Ctx, Query(query): Query<CallbackQuery>) -> Response {
    let refused = |key: &str| error_page(&ctx, StatusCode::BAD_REQUEST, ctx.lang.t(key));
    let flow = match ctx.state.oauth_flows.finish(&query.state, &ctx.session.csrf) {
        Ok(flow) => flow,
        Err(Refusal::Unknown) => return refused("conn.flow_unknown"),
        Err(Refusal::Expired) => return refused("conn.flow_expired"),
        Err(Refusal::OtherSession) => return refused("conn.flow_other_session"),
    };
    let (Some(code), None) = (query.code.filter(|code| !code.is_empty()), query.error) else {
        return refused("conn.flow_denied");
    };
    let Some(provider) = configured(&ctx.state).into_iter().find(|p| p.id == flow.provider) else {
        return refused("conn.flow_unknown");
    };
    let tenant = flow.tenant.clone();
    let name = match &flow.connection {
        Some(name) => name.clone(),
        None => match free_name(&ctx, &tenant, &provider.id).await {
            Ok(name) => name,
            Err(error) => return ctx.error(error),
        },
    };
    let redeemed = ctx
        .state
        .connections
        .redeem_code(&name, &provider, &code, &flow.redirect_uri, &flow.code_verifier)
        .await;
    let grant = match redeemed {
        Ok(grant) => grant,
        Err(ConnectionError::Revoked(why) | ConnectionError::Failed(why)) => {
            tracing::warn!(tenant = %tenant, provider = %provider.id, "connect: {why}");
            let words = format!("{} ({why})", ctx.lang.t("conn.flow_failed"));
            return error_page(&ctx, StatusCode::BAD_GATEWAY, &words);
        }
    };
    let Some(refresh_token) = grant.refresh_token else {
        return error_page(&ctx, StatusCode::BAD_GATEWAY, ctx.lang.t("conn.flow_no_refresh"));
    };
    let credential = Credential::Oauth2RefreshToken {
        token_url: provider.token_url.clone(),
        client_id: provider.client_id.clone(),
        client_secret: provider.client_secret.clone(),
        refresh_token,
        scopes: provider.scopes.clone(),
    };
    let credential = serde_json::to_value(&credential).expect("a credential serialises");
    let saved = match &flow.connection {
        // Reconnect: the same connection (name, hosts, subscriptions), a new grant; it is no longer broken.
        Some(name) => {
            let body = json!({ "credential": credential }).to_string();
            let path = Path((tenant.clone(), name.clone()));
            connections::update(State(ctx.state.clone()), ctx.caller(), path, Bytes::from(body))
                .await
                .map(drop)
        }
        None => {
            let body = json!({ "name": name, "hosts": provider.hosts, "credential": credential }).to_string();
            let path = Path(tenant.clone());
            connections::create(
                State(ctx.state.clone()),
                ctx.caller(),
                path,
                HeaderMap::new(),
                Bytes::from(body),
            )
            .await
            .map(drop)
        }
    };
    match saved {
        Ok(()) => {
            let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
            Redirect::to(&format!("{}?connected={encoded}", path(&tenant, "connections"))).into_response()
        }
        Err(error) => ctx.error(error),
    }
}

/// The provider's id as a connection name, or with `-2`, `-3`… when taken.
async fn free_name(ctx: &Ctx, tenant: &str, provider: &str) -> ApiResult<String> {
    for n in 1..100 {
        let name = if n == 1 { provider.to_owned() } else { format!("{provider}-{n}") };
        if ctx.state.store.get_connection(tenant, &name).await?.is_none() {
            return Ok(name);
        }
    }
    Err(ApiError::new(StatusCode::CONFLICT, "conflict", format!("too many connections named {provider}-…")))
}

#[derive(Deserialize)]
struct ServiceAccountQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    hosts: String,
    #[serde(default)]
    scopes: String,
}

/// A Google service account from its JSON key file (the body, at most [`MAX_KEY_FILE_BYTES`], read before
/// it is parsed); answered as the API answers, since the page's script reads it.
async fn service_account(
    ctx: Ctx,
    Path(tenant): Path<String>,
    Query(query): Query<ServiceAccountQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let csrf = headers.get(super::session::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !crate::api::same_secret(csrf, &ctx.session.csrf) {
        return ApiError::forbidden(
            "a console request must come from the console's own pages; reload the page",
        )
        .into_response();
    }
    let Ok(file) = axum::body::to_bytes(body, MAX_KEY_FILE_BYTES).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "key_too_large",
            format!(
                "the key file is larger than {} KiB; choose the service account's JSON key as Google issued it \
                 (about 2 KiB)",
                MAX_KEY_FILE_BYTES / 1024
            ),
        )
        .into_response();
    };
    let Ok(key) = serde_json::from_slice::<serde_json::Value>(&file) else {
        return ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "credential.key",
            "the file is not JSON; choose the service account's JSON key (IAM → Service accounts → Keys)",
        )
        .into_response();
    };
    let split = |text: &str, by: &[char]| -> Vec<String> {
        text.split(by).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    };
    let request = json!({
        "name": query.name.trim(),
        "hosts": split(&query.hosts, &[',', ' ']),
        "credential": {"kind": "google_service_account", "key": key, "scopes": split(&query.scopes, &[' ', ','])},
    });
    let created = connections::create(
        State(ctx.state.clone()),
        ctx.caller(),
        Path(tenant),
        HeaderMap::new(),
        Bytes::from(request.to_string()),
    )
    .await;
    match created {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}
