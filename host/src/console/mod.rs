//! The web console (`/console`): the operator's pages (tenants and keys, shared plugins, an overview from
//! the metrics) and each tenant's portal (subscriptions with the template editor and its live preview,
//! deliveries, its own plugins, connections), in the customer's words. Pages are rendered here from the API's own operations,
//! called as functions with the session's caller; the pages' script changes things through the JSON API
//! itself, authenticated by the session cookie and its CSRF token. Everything it serves is compiled in.
//!
//! - [`session`]: the signed session cookie, CSRF, and the layer that makes a session an API caller.
//! - [`links`]: portal links an operator mints for one tenant, and following one.
//! - [`i18n`]: Spanish and English, from the browser's language or the visitor's choice.
//! - [`catalog`]: the event catalog in the customer's words (event types, fields, values).
//! - [`failures`]: what went wrong, in the customer's words.
//! - [`connect`]: the portal's *Connect* buttons (OAuth with PKCE) and service-account uploads.
//! - [`charts`]: charts of a window's deliveries, drawn as inline SVG.
//! - [`layout`], [`portal`], [`editor`], [`deliveries`], [`operator`], [`keys`], [`canary`], [`sign_in`]: the pages.

mod canary;
mod catalog;
mod charts;
mod connect;
mod deliveries;
mod editor;
mod failures;
pub mod i18n;
mod keys;
mod lanes;
mod layout;
pub mod links;
mod operator;
mod portal;
pub mod session;
mod sign_in;
mod texts;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Router, middleware};

use crate::api::{ApiError, AppState, Caller};
use i18n::Lang;
use session::Session;

/// The whole HTTP service: the API, the console, and the layer that lets console sessions call the API.
pub fn app(state: AppState) -> Router {
    let console = Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/assets/{file}", get(asset))
        .route("/console/lang", get(i18n::switch))
        .merge(sign_in::router())
        .merge(links::router())
        .merge(portal::router())
        .merge(connect::router())
        .merge(deliveries::router())
        .merge(operator::router())
        .merge(keys::router())
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .with_state(state.clone());
    console
        .route("/openapi.json", get(openapi))
        .merge(crate::api::router(state.clone()))
        .layer(middleware::from_fn_with_state(state, session::api_caller))
}

/// The API document, with the operation that lives here (minting portal links).
async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    axum::Json(crate::api::ops::document_with(links::LinksDoc::openapi()))
}

/// Who is looking at a page, in which language. Without a session, the page is the sign-in form.
pub struct Ctx {
    pub state: AppState,
    pub session: Session,
    pub lang: Lang,
}

impl Ctx {
    pub fn caller(&self) -> Caller {
        self.session.caller()
    }

    /// The page for an error of the API, in the visitor's words (by its code, else its field), in the
    /// status it came with; the API's own English text is for integrators and the log.
    pub fn error(&self, error: ApiError) -> Response {
        let by_code = self.lang.try_t(&format!("js.err.{}", error.code));
        let by_field = error.field.as_deref().and_then(|field| self.lang.try_t(&format!("js.field.{field}")));
        let words = by_code.or(by_field).unwrap_or_else(|| self.lang.t("js.err.other"));
        layout::error_page(self, error.status, words)
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Ctx, Response> {
        let lang = Lang::of(&parts.headers);
        match session::from_headers(state, &parts.headers).await {
            Some(session) => Ok(Ctx { state: state.clone(), session, lang }),
            None => Err(Redirect::to("/console/sign-in").into_response()),
        }
    }
}

/// `/console`: the operator's overview, or the tenant's portal.
async fn home(ctx: Ctx) -> Redirect {
    match &ctx.session.tenant {
        Some(tenant) => Redirect::to(&portal::path(tenant, "subscriptions")),
        None => Redirect::to("/console/operator"),
    }
}

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const EDITOR_JS: &str = include_str!("assets/editor.js");
const DELIVERIES_JS: &str = include_str!("assets/deliveries.js");
const WEBHOOK_JS: &str = include_str!("assets/webhook.js");
const CONTROLS_JS: &str = include_str!("assets/controls.js");

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "console.css" => ("text/css; charset=utf-8", CSS),
        "console.js" => ("text/javascript; charset=utf-8", JS),
        "editor.js" => ("text/javascript; charset=utf-8", EDITOR_JS),
        "deliveries.js" => ("text/javascript; charset=utf-8", DELIVERIES_JS),
        "webhook.js" => ("text/javascript; charset=utf-8", WEBHOOK_JS),
        "controls.js" => ("text/javascript; charset=utf-8", CONTROLS_JS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// On every console answer: scripts and styles only from here, framing only by the origins the operator
/// listed (never for the operator's pages, and never for any page seen with the operator's session: a
/// framing page could click through a tenant's portal with the operator's rights), no referrer (a portal
/// link's token never leaks), no caching.
async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let operator_page = request.uri().path().starts_with("/console/operator")
        || session::is_operators(&state, request.headers());
    let mut response = next.run(request).await;
    let ancestors = if operator_page {
        "'none'".to_owned()
    } else {
        let origins = state.config.console.frame_origins().unwrap_or_default();
        std::iter::once("'self'".to_owned()).chain(origins).collect::<Vec<_>>().join(" ")
    };
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}"
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    if operator_page {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
