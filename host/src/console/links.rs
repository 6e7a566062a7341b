//! Portal links: the operator (the platform's backend) mints a short-lived link to one tenant's portal and
//! puts it in an iframe or a redirect in its own UI. Following it makes a session of that tenant only and
//! at once redirects to the portal, so the link's token is never left in the address bar or history.
//!
//! A link is signed like a session (under its own derived key) and carries an id, its tenant and expiry.
//! It works once: the ids of links followed are kept until they expire. A link opened from another site at
//! the top of a browser that already has a session of someone else (another tenant, the operator) does not
//! replace it unasked: a page says whose session it would replace, and continuing is a form of this site.
//!
//! Minting a link is an operation of the API (`POST /v1/tenants/{tenant}/portal-links`) that lives here, on
//! the console's side, since it makes console sessions: the API never calls into the console.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::html;
use serde::{Deserialize, Serialize};

use super::i18n::Lang;
use super::session::{self, Session, now_secs};
use crate::api::{ApiError, ApiResult, AppState, Caller, parse_json_body, rfc3339};

/// A link's lifetime when the operator does not say.
const DEFAULT_TTL_SECS: u64 = 300;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/portal-links", post(mint))
        .route("/console/link", get(follow).post(confirm))
}

/// The API document's part for the operation that lives here.
#[derive(utoipa::OpenApi)]
#[openapi(paths(mint))]
pub struct LinksDoc;

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
    /// Names it among the links followed, so that it works once.
    #[serde(default)]
    id: String,
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
    let claims = LinkClaims { id: crate::ids::new_id("lnk"), tenant: found.id, exp };
    let token = session::sign(&state, "portal-link", &claims);
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

/// Following a link: a session of its tenant, then straight to the portal (the token leaves the URL). Opened
/// at the top of a browser with someone else's session from another site, it asks first.
async fn follow(State(state): State<AppState>, headers: HeaderMap, Query(follow): Query<Follow>) -> Response {
    let lang = Lang::of(&headers);
    let claims = match valid_claims(&state, lang, &follow.token).await {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let framed = headers.get("sec-fetch-dest").and_then(|v| v.to_str().ok()) == Some("iframe");
    // `same-site` is another origin too (another port, a sibling subdomain); `none` is the user's own doing.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site");
    // A framed session is a cookie of the framing site's partition: it replaces nothing of the browser's own.
    if cross_site && !framed {
        let current = session::from_headers(&state, &headers).await;
        if let Some(current) = current.filter(|current| current.tenant.as_deref() != Some(&claims.tenant)) {
            return ask(&state, lang, &current, &claims.tenant, &follow.token);
        }
    }
    start_session(&state, lang, claims, framed).await
}

/// Continuing from [`ask`]: a form of this site, so another site cannot send it.
async fn confirm(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let lang = Lang::of(&headers);
    if !super::sign_in::from_this_site(&state, &headers, &body) {
        return super::layout::bare_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t("error.title"),
            lang.t("sign_in.cross_origin"),
        );
    }
    let token = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned());
    let claims = match valid_claims(&state, lang, token.as_deref().unwrap_or_default()).await {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    start_session(&state, lang, claims, false).await
}

/// The claims of a link that is signed, unexpired and of a tenant that exists; else the page saying so.
async fn valid_claims(state: &AppState, lang: Lang, token: &str) -> Result<LinkClaims, Response> {
    let claims = session::verify::<LinkClaims>(state, "portal-link", token)
        .filter(|claims| claims.exp >= now_secs() && !claims.id.is_empty())
        .ok_or_else(|| expired(lang))?;
    let found =
        crate::api::tenants::get_tenant(State(state.clone()), Caller::Operator, Path(claims.tenant.clone()))
            .await;
    match found {
        Ok(_) => Ok(claims),
        Err(error) if error.status == StatusCode::NOT_FOUND => Err(expired(lang)),
        Err(error) => Err(error.into_response()),
    }
}

/// Uses the link up (it works once) and starts its tenant's session.
async fn start_session(state: &AppState, lang: Lang, claims: LinkClaims, framed: bool) -> Response {
    match crate::api::access::use_portal_link(state, &claims.id, claims.exp * 1000).await {
        Ok(true) => {}
        Ok(false) => return expired(lang),
        Err(error) => return error.into_response(),
    }
    let tenant = claims.tenant;
    let session = Session::new(Some(tenant.clone()), None, state.config.console.session_ttl_secs, true);
    let mut response = Redirect::to(&super::portal::path(&tenant, "subscriptions")).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(state, &session, framed));
    response
}

/// The page that asks before a link from another site replaces the browser's session.
fn ask(state: &AppState, lang: Lang, current: &Session, tenant: &str, token: &str) -> Response {
    let t = |key| lang.t(key);
    let proof = super::sign_in::FormProof::new(state);
    let whose = match &current.tenant {
        Some(other) => format!("{} {other}", t("link.replace_tenant")),
        None => t("link.replace_operator").to_owned(),
    };
    let body = html! {
        h1 { (t("link.replace_title")) }
        p.replace-session { (whose) }
        p { (t("link.replace_lead")) " " strong { (tenant) } }
        form method="post" action="/console/link" {
            (proof.field)
            input type="hidden" name="token" value=(token);
            button.primary type="submit" { (t("link.replace_continue")) }
        }
        p { a href="/console" { (t("link.replace_stay")) } }
    };
    let markup = super::layout::bare_document(lang, t("link.replace_title"), body);
    proof.set_on((StatusCode::OK, Html(markup.into_string())).into_response())
}

fn expired(lang: Lang) -> Response {
    super::layout::bare_page(lang, StatusCode::FORBIDDEN, lang.t("error.title"), lang.t("link.invalid"))
}
