//! Signing in directly, for people without the platform's panel: a tenant API key or the operator token,
//! posted once in a form (never in a URL), exchanged for a session cookie. And signing out.
//!
//! No other site may sign a browser in or out (login CSRF). Browsers say where a form came from in
//! `Sec-Fetch-Site`, or in `Origin`; but on a plain-HTTP origin other than `localhost` (a LAN address, a
//! proxy that forwards plain HTTP) Chromium sends neither in a usable form. Then the form proves it itself:
//! each form page sets a random cookie of this site (`SameSite=Strict`, so no other site's post carries
//! it) and puts its signature in the form, which no other site can read or make. Failed sign-ins count
//! against the client's address like failed bearer tokens.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::i18n::Lang;
use super::session::{self, Session};
use crate::api::AppState;

/// The cookie a form page sets, whose signature its form sends back.
const FORM_COOKIE: &str = "gancho_form";
/// The form field that carries the signature.
pub const FORM_FIELD: &str = "form_token";
/// Largest form body read.
const MAX_FORM_BYTES: usize = 16 << 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sign-in", get(form).post(sign_in))
        .route("/console/sign-out", post(sign_out))
}

/// A form's proof that it is this site's: a random cookie, and its signature for the form.
pub struct FormProof {
    cookie: HeaderValue,
    /// The hidden field to put in the form.
    pub field: Markup,
}

impl FormProof {
    pub fn new(state: &AppState) -> FormProof {
        let nonce = crate::ids::random_token();
        let signed = session::sign(state, "form", &nonce);
        let cookie = HeaderValue::from_str(&format!(
            "{FORM_COOKIE}={nonce}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=3600"
        ))
        .expect("hex is a valid header value");
        FormProof { cookie, field: html! { input type="hidden" name=(FORM_FIELD) value=(signed); } }
    }

    /// `response` with the proof's cookie set.
    pub fn set_on(self, mut response: Response) -> Response {
        response.headers_mut().append(header::SET_COOKIE, self.cookie);
        response
    }
}

fn page(state: &AppState, lang: Lang, status: StatusCode, error: Option<&str>) -> Response {
    let t = |key| lang.t(key);
    let proof = FormProof::new(state);
    let body = html! {
        div.lang-switch {
            @for (code, label) in [("en", "English"), ("es", "Español")] {
                @if code == lang.code() { span.current { (label) } }
                @else { a href={ "/console/lang?to=" (code) "&back=/console/sign-in" } { (label) } }
            }
        }
        p.logo { "gancho" }
        h1 { (t("sign_in.title")) }
        p { (t("sign_in.lead")) }
        form method="post" action="/console/sign-in" autocomplete="off" {
            (proof.field)
            label for="token" { (t("sign_in.token")) }
            input #token type="password" name="token" required autofocus;
            @if let Some(error) = error {
                p.field-error role="alert" { (error) }
            }
            button.primary type="submit" { (t("sign_in.submit")) }
        }
    };
    let markup = super::layout::bare_document(lang, t("sign_in.title"), body);
    proof.set_on((status, Html(markup.into_string())).into_response())
}

async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, Lang::of(&headers), StatusCode::OK, None)
}

/// Where the browser says a form post came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// A page of this very site.
    Same,
    /// Another site's page.
    Other,
    /// The browser did not say (plain HTTP other than localhost, or no browser at all).
    Unknown,
}

/// What the browser says in `Sec-Fetch-Site`, else in an `Origin` naming (or not) our `Host`. With the
/// console's `no-referrer` policy a browser sends `Origin: null`, which says nothing.
pub fn site(headers: &HeaderMap) -> Site {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return if site == "same-origin" { Site::Same } else { Site::Other };
    }
    let Some(origin) = header(header::ORIGIN.as_str()).filter(|origin| *origin != "null") else {
        return Site::Unknown;
    };
    let host = header(header::HOST.as_str()).unwrap_or("");
    let same = url::Url::parse(origin).ok().is_some_and(|origin| {
        let authority = match origin.port() {
            Some(port) => format!("{}:{port}", origin.host_str().unwrap_or("")),
            None => origin.host_str().unwrap_or("").to_owned(),
        };
        authority.eq_ignore_ascii_case(host)
    });
    if same { Site::Same } else { Site::Other }
}

/// Whether a form post comes from this site's own page: as the browser says, or (when it does not say)
/// as the form proves with [`FormProof`].
pub fn from_this_site(state: &AppState, headers: &HeaderMap, body: &[u8]) -> bool {
    match site(headers) {
        Site::Same => true,
        Site::Other => false,
        Site::Unknown => {
            let nonce = session::cookie(headers, FORM_COOKIE).unwrap_or_default();
            let signed = form_field(body, FORM_FIELD).unwrap_or_default();
            !nonce.is_empty()
                && session::verify::<String>(state, "form", &signed)
                    .is_some_and(|expected| crate::api::same_secret(&expected, nonce))
        }
    }
}

pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(key, _)| key == name).map(|(_, value)| value.trim().to_owned())
}

async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (headers, lang) = (&parts.headers, Lang::of(&parts.headers));
    let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return page(&state, lang, StatusCode::PAYLOAD_TOO_LARGE, Some(lang.t("sign_in.wrong")));
    };
    if !from_this_site(&state, headers, &body) {
        return page(&state, lang, StatusCode::FORBIDDEN, Some(lang.t("sign_in.cross_origin")));
    }
    let client = crate::api::access::client(&state, &parts);
    if let Err(refused) = state.access.check(client) {
        let wait = refused.retry_after_secs.unwrap_or(1);
        let message = lang.t("sign_in.too_many").replace("{secs}", &wait.to_string());
        let mut response = page(&state, lang, StatusCode::TOO_MANY_REQUESTS, Some(&message));
        response.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return response;
    }
    let token = form_field(&body, "token").unwrap_or_default();
    let ttl = state.config.console.session_ttl_secs;
    let session = if !token.is_empty() && crate::api::same_secret(&token, &state.config.operator_token) {
        Some(Session::new(None, None, ttl, false))
    } else if token.starts_with(crate::api::tenants::API_KEY_PREFIX) {
        let digest = crate::ids::key_digest(&token);
        match crate::api::tenant_of_key(&state, &digest).await {
            Ok(Some(tenant)) => {
                state.access.key_used(&state, &digest).await;
                Some(Session::new(Some(tenant), Some(digest), ttl, false))
            }
            Ok(None) => None,
            Err(error) => return page(&state, lang, error.status, Some(&error.message)),
        }
    } else {
        None
    };
    let Some(session) = session else {
        state.access.failed(client);
        return page(&state, lang, StatusCode::UNAUTHORIZED, Some(lang.t("sign_in.wrong")));
    };
    let mut response = Redirect::to("/console").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(&state, &session, false));
    response
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let csrf = form_field(&body, "csrf").unwrap_or_default();
    let valid = session::from_headers(&state, &headers)
        .await
        .is_some_and(|session| crate::api::same_secret(&csrf, &session.csrf));
    // The session's own CSRF token proves the form is this site's when the browser does not say.
    if !valid || site(&headers) == Site::Other {
        return Redirect::to("/console/sign-in").into_response();
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::clear_cookie());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (header::HeaderName::from_static(name), HeaderValue::from_static(value)))
            .collect()
    }

    #[test]
    fn where_a_form_came_from_is_read_from_what_the_browser_says() {
        assert_eq!(site(&headers(&[("sec-fetch-site", "same-origin")])), Site::Same);
        assert_eq!(site(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "null")])), Site::Other);
        assert_eq!(
            site(&headers(&[("origin", "http://192.168.1.5:8080"), ("host", "192.168.1.5:8080")])),
            Site::Same
        );
        assert_eq!(
            site(&headers(&[("origin", "http://evil.example"), ("host", "192.168.1.5:8080")])),
            Site::Other
        );
        // Chromium on a plain-HTTP LAN address, under the console's no-referrer policy.
        assert_eq!(site(&headers(&[("origin", "null"), ("host", "192.168.1.5:8080")])), Site::Unknown);
        assert_eq!(site(&headers(&[])), Site::Unknown);
    }
}
