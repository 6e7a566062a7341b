//! Portal links: the operator (the platform's backend) mints a short-lived link to one tenant's portal and
//! puts it in an iframe or a redirect in its own UI. Following it makes a session of that tenant only and
//! at once redirects to the portal, so the link's token is never left in the address bar or history.
//!
//! A link is signed like a session (under its own derived key) and carries its tenant and expiry; it is
//! not stored, so it may be followed more than once within its few minutes.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::i18n::Lang;
use super::session::{self, Session, now_secs};
use crate::api::{ApiError, ApiResult, AppState, Caller, parse_json_body, rfc3339};

/// A link's lifetime when the operator does not say.
const DEFAULT_TTL_SECS: u64 = 300;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants/{tenant}/portal-links", post(mint)).route("/console/link", get(follow))
}

/// What a portal link asks for.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPortalLink {
    /// Seconds until the link stops working (default 300, at most `console.link_max_ttl_secs`). The
    /// session it starts lasts `console.session_ttl_secs`.
    pub ttl_secs: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PortalLink {
    pub tenant: String,
    /// The link as this request reached the service (scheme from `X-Forwarded-Proto`, else http).
    pub url: String,
    /// The same link without scheme and host, for a platform that knows where Gancho is.
    pub path: String,
    pub expires_at: String,
}

/// What a link's token carries.
#[derive(Serialize, Deserialize)]
struct LinkClaims {
    tenant: String,
    exp: i64,
}

/// Mint a link to one tenant's portal (operator).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/portal-links", tag = "tenants", request_body = NewPortalLink,
    responses((status = 201, body = PortalLink), (status = 403, body = crate::api::error::ErrorBody),
        (status = 404, body = crate::api::error::ErrorBody), (status = 422, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn mint(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<PortalLink>)> {
    caller.require_operator()?;
    let request: NewPortalLink =
        if body.is_empty() { NewPortalLink::default() } else { parse_json_body(&body)? };
    let max = state.config.console.link_max_ttl_secs;
    let ttl = request.ttl_secs.unwrap_or(DEFAULT_TTL_SECS.min(max));
    if ttl == 0 || ttl > max {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ttl_secs",
            format!("`ttl_secs` must be 1 to {max} (console.link_max_ttl_secs)"),
        ));
    }
    // The tenant must exist: read through the API's own operation.
    let Json(found) =
        crate::api::tenants::get_tenant(State(state.clone()), Caller::Operator, Path(tenant.clone())).await?;
    let exp = now_secs() + ttl as i64;
    let token = session::sign(&state, "portal-link", &LinkClaims { tenant: found.id, exp });
    let path = format!("/console/link?token={token}");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    Ok((
        StatusCode::CREATED,
        Json(PortalLink {
            tenant,
            url: format!("{scheme}://{host}{path}"),
            path,
            expires_at: rfc3339(exp * 1000),
        }),
    ))
}

#[derive(Deserialize)]
struct Follow {
    token: String,
}

/// Following a link: a session of its tenant, then straight to the portal (the token leaves the URL).
async fn follow(State(state): State<AppState>, headers: HeaderMap, Query(follow): Query<Follow>) -> Response {
    let lang = Lang::of(&headers);
    let claims = session::verify::<LinkClaims>(&state, "portal-link", &follow.token)
        .filter(|claims| claims.exp >= now_secs());
    let tenant = match claims {
        Some(claims) => {
            let found =
                crate::api::tenants::get_tenant(State(state.clone()), Caller::Operator, Path(claims.tenant))
                    .await;
            match found {
                Ok(Json(tenant)) => tenant.id,
                Err(error) if error.status == StatusCode::NOT_FOUND => return expired(lang),
                Err(error) => return error.into_response(),
            }
        }
        None => return expired(lang),
    };
    let framed = headers.get("sec-fetch-dest").and_then(|v| v.to_str().ok()) == Some("iframe");
    let session = Session::new(Some(tenant.clone()), None, state.config.console.session_ttl_secs, true);
    let mut response = Redirect::to(&super::portal::path(&tenant, "subscriptions")).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(&state, &session, framed));
    response
}

fn expired(lang: Lang) -> Response {
    super::layout::bare_page(lang, StatusCode::FORBIDDEN, lang.t("error.title"), lang.t("link.invalid"))
}
