//! Signing in directly, for people without the platform's panel: a tenant API key or the operator token,
//! posted once in a form (never in a URL), exchanged for a session cookie. And signing out.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, html};

use super::i18n::Lang;
use super::session::{self, Session};
use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sign-in", get(form).post(sign_in))
        .route("/console/sign-out", post(sign_out))
}

fn page(lang: Lang, status: StatusCode, error: Option<&str>) -> Response {
    let t = |key| lang.t(key);
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t("sign_in.title")) " · Gancho" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body.bare {
                main.narrow {
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
                        label for="token" { (t("sign_in.token")) }
                        input #token type="password" name="token" required autofocus;
                        @if let Some(error) = error {
                            p.field-error role="alert" { (error) }
                        }
                        button.primary type="submit" { (t("sign_in.submit")) }
                    }
                }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

async fn form(headers: HeaderMap) -> Response {
    page(Lang::of(&headers), StatusCode::OK, None)
}

/// Whether a form post came from a page of this very site, so that no other site can sign a browser in
/// or out: browsers say so in `Sec-Fetch-Site`; older ones send an `Origin` naming our `Host` (with the
/// console's `no-referrer` policy they send `Origin: null`, hence `Sec-Fetch-Site` first).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    let Some(origin) = header(header::ORIGIN.as_str()) else {
        // Browsers send one of the two on every POST; a client without either is not a cross-site page.
        return true;
    };
    let host = header(header::HOST.as_str()).unwrap_or("");
    url::Url::parse(origin).ok().is_some_and(|origin| {
        let authority = match origin.port() {
            Some(port) => format!("{}:{port}", origin.host_str().unwrap_or("")),
            None => origin.host_str().unwrap_or("").to_owned(),
        };
        authority.eq_ignore_ascii_case(host)
    })
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body).find(|(key, _)| key == name).map(|(_, value)| value.trim().to_owned())
}

async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::of(&headers);
    if !same_origin(&headers) {
        return page(lang, StatusCode::FORBIDDEN, Some(lang.t("sign_in.cross_origin")));
    }
    let token = form_field(&body, "token").unwrap_or_default();
    let ttl = state.config.console.session_ttl_secs;
    let session = if !token.is_empty() && crate::api::same_secret(&token, &state.config.operator_token) {
        Some(Session::new(None, None, ttl, false))
    } else if token.starts_with(crate::api::tenants::API_KEY_PREFIX) {
        let digest = crate::ids::key_digest(&token);
        match crate::api::tenant_of_key(&state, &digest).await {
            Ok(Some(tenant)) => Some(Session::new(Some(tenant), Some(digest), ttl, false)),
            Ok(None) => None,
            Err(error) => return page(lang, error.status, Some(&error.message)),
        }
    } else {
        None
    };
    let Some(session) = session else {
        return page(lang, StatusCode::UNAUTHORIZED, Some(lang.t("sign_in.wrong")));
    };
    let mut response = Redirect::to("/console").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(&state, &session, false));
    response
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let csrf = form_field(&body, "csrf").unwrap_or_default();
    let valid = session::from_headers(&state, &headers)
        .await
        .is_some_and(|session| crate::api::same_secret(&csrf, &session.csrf));
    if !valid || !same_origin(&headers) {
        return Redirect::to("/console/sign-in").into_response();
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::clear_cookie());
    response
}
