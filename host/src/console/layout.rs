//! The frame every console page shares: the header with its navigation, the language switch and sign-out,
//! the CSRF token for the script, and the data a page hands its script (as JSON, never as code).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Ctx;
use super::i18n::Lang;

/// One page: its title, which navigation entry is current, its content and its script's data.
pub struct Page {
    pub title: String,
    /// The navigation entry to mark (`subscriptions`, `tenants`, …).
    pub current: &'static str,
    pub body: Markup,
    /// Given to the script as `page` (merged with the texts it needs).
    pub data: serde_json::Value,
}

/// The navigation of the portal of `tenant`, or the operator's.
fn nav(ctx: &Ctx, tenant: Option<&str>, current: &str) -> Markup {
    let t = |key| ctx.lang.t(key);
    let entries: Vec<(String, &str, &str)> = match tenant {
        Some(tenant) => ["subscriptions", "deliveries", "connections"]
            .into_iter()
            // A section the service has switched off is not offered.
            .filter(|name| *name != "connections" || super::portal::connections_on(ctx))
            .map(|name| (super::portal::path(tenant, name), name, t(nav_key(name))))
            .collect(),
        None => vec![
            ("/console/operator".to_owned(), "overview", t("nav.overview")),
            ("/console/operator/tenants".to_owned(), "tenants", t("nav.tenants")),
            ("/console/operator/plugins".to_owned(), "shared-plugins", t("nav.shared_plugins")),
        ],
    };
    html! {
        nav.main-nav {
            @for (href, name, label) in &entries {
                a href=(href) class=@if *name == current { "current" } { (label) }
            }
            // Integrators' own plugins: there, not in the way.
            @if let Some(tenant) = tenant {
                a href=(super::portal::path(tenant, "plugins"))
                    class={ "nav-advanced" @if current == "plugins" { " current" } } { (t("nav.plugins_advanced")) }
            }
            @if tenant.is_some() && ctx.session.tenant.is_none() {
                a.operator-link href="/console/operator/tenants" { "← " (t("nav.operator")) }
            }
        }
    }
}

fn nav_key(name: &str) -> &'static str {
    match name {
        "subscriptions" => "nav.subscriptions",
        "deliveries" => "nav.deliveries",
        _ => "nav.connections",
    }
}

/// The language switch: links that remember the choice and come back to `here`.
fn lang_switch(lang: Lang, here: &str) -> Markup {
    html! {
        span.lang-switch {
            @for (code, label) in [("en", "English"), ("es", "Español")] {
                @if code == lang.code() {
                    span.current lang=(code) { (label) }
                } @else {
                    a lang=(code) href={ "/console/lang?to=" (code) "&back=" (encode(here)) } { (label) }
                }
            }
        }
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A whole page for the portal of `tenant` (or, with `None`, the operator's console).
pub fn render(ctx: &Ctx, tenant: Option<&str>, here: &str, page: Page) -> Response {
    let t = |key| ctx.lang.t(key);
    let mut data = page.data;
    if !data.is_object() {
        data = serde_json::json!({});
    }
    data["texts"] = ctx.lang.script_texts();
    data["tenant"] = tenant.map_or(serde_json::Value::Null, Into::into);
    // JSON inside a <script type="application/json"> must neither close the element nor open a comment:
    // `<` only appears inside JSON strings, where `\u003c` means the same.
    let json = data.to_string().replace('<', "\\u003c");
    let brand = match tenant {
        Some(_) => t("brand.portal"),
        None => t("brand.operator"),
    };
    let markup = html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " · Gancho" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/editor.js" defer {}
                script src="/console/assets/deliveries.js" defer {}
                script src="/console/assets/webhook.js" defer {}
                script src="/console/assets/controls.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body data-csrf=(ctx.session.csrf) {
                header.top {
                    div.brand {
                        span.logo { "gancho" }
                        span.brand-name { (brand) }
                        @if let Some(tenant) = tenant { span.tenant-name { (tenant) } }
                    }
                    (nav(ctx, tenant, page.current))
                    div.top-right {
                        (lang_switch(ctx.lang, here))
                        form.sign-out method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(ctx.session.csrf);
                            button.link type="submit" { (t("nav.sign_out")) }
                        }
                    }
                }
                main {
                    h1 { (page.title) }
                    (page.body)
                }
                script type="application/json" id="page-data" { (PreEscaped(json)) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page that says what went wrong, in words, with the status it came with.
pub fn error_page(ctx: &Ctx, status: StatusCode, message: &str) -> Response {
    bare_page(ctx.lang, status, ctx.lang.t("error.title"), message)
}

/// A page without a session (sign-in problems, an expired portal link).
pub fn bare_page(lang: Lang, status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p.error-message role="alert" { (message) }
        p { a href="/console" { (lang.t("error.back")) } }
    };
    (status, Html(bare_document(lang, title, body).into_string())).into_response()
}

/// A narrow page of its own (no navigation, no session needed) with `body` in its main part: the sign-in
/// form, a question, an error.
pub fn bare_document(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gancho" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body.bare {
                main.narrow { (body) }
            }
        }
    }
}

/// A moment, shown in the visitor's time zone by the page's script (the RFC 3339 text until then).
pub fn time(at: &str) -> Markup {
    html! { time datetime=(at) { (at) } }
}

/// A table cell's text for an optional value.
pub fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("—")
}
