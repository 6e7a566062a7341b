//! The connections page's parts for signing in at a provider: a *Connect* button per configured provider,
//! *Reconnect* on a broken connection one of them made, the notice after a connection was made, and the
//! form that adds a Google service account from its key file.

use maud::{Markup, html};

use super::super::Ctx;
use super::super::portal::path;
use super::configured;
use crate::api::connections::ConnectionView;
use crate::connections::oauth_apps::Provider;

/// Where *Connect* (or, with `connection`, *Reconnect*) begins; the session's CSRF token rides along.
fn begin_href(ctx: &Ctx, tenant: &str, provider: &Provider, connection: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("csrf", &ctx.session.csrf);
    if let Some(name) = connection {
        query.append_pair("connection", name);
    }
    format!("{}?{}", path(tenant, &format!("connections/connect/{}", provider.id)), query.finish())
}

/// One *Connect* button per configured provider (nothing when there is none).
pub fn connect_buttons(ctx: &Ctx, tenant: &str) -> Markup {
    let providers = configured(&ctx.state);
    let t = |key| ctx.lang.t(key);
    html! {
        @if !providers.is_empty() {
            section.card #connect {
                h2 { (t("conn.connect_title")) }
                p { (t("conn.connect_lead")) }
                p.connect-buttons {
                    @for provider in &providers {
                        a.button.primary data-connect=(provider.id) href=(begin_href(ctx, tenant, provider, None)) {
                            (t("conn.connect")) " " (provider.label)
                        }
                        " "
                    }
                }
            }
        }
    }
}

/// *Reconnect*, for a broken OAuth connection whose hosts are those of a configured provider.
pub fn reconnect(ctx: &Ctx, tenant: &str, connection: &ConnectionView) -> Markup {
    let provider = (connection.status == "broken" && connection.kind == "oauth2_refresh_token")
        .then(|| configured(&ctx.state).into_iter().find(|p| p.hosts == connection.hosts))
        .flatten();
    html! {
        @if let Some(provider) = provider {
            a.button.primary data-reconnect=(connection.name)
                href=(begin_href(ctx, tenant, &provider, Some(&connection.name))) { (ctx.lang.t("conn.reconnect")) }
            " · "
        }
    }
}

/// After a sign-in: which connection it made or repaired.
pub fn connected_notice(ctx: &Ctx, connected: Option<&str>) -> Markup {
    html! {
        @if let Some(name) = connected {
            p.notice #connected role="status" { (ctx.lang.t("conn.connected")) " " code { (name) } }
        }
    }
}

/// Adding a Google service account by uploading its JSON key.
pub fn service_account_form(ctx: &Ctx, tenant: &str) -> Markup {
    let t = |key| ctx.lang.t(key);
    html! {
        section.card {
            h2 { (t("conn.sa_title")) }
            p { (t("conn.sa_lead")) }
            form #sa-form data-path=(path(tenant, "connections/service-account")) {
                label for="sa-name" { (t("common.name")) }
                input #sa-name type="text" required placeholder="google-sheets";
                p.field-error data-error-for="name" {}
                label for="sa-file" { (t("conn.sa_file")) }
                input #sa-file type="file" accept=".json,application/json" required;
                // The key's problems, and the scopes' (all of the credential), under the file.
                p.field-error data-error-for="credential" {}
                label for="sa-scopes" { (t("conn.sa_scopes")) }
                input #sa-scopes type="text" value="https://www.googleapis.com/auth/spreadsheets";
                label for="sa-hosts" { (t("conn.hosts")) }
                input #sa-hosts type="text" value="*.googleapis.com";
                p.field-error data-error-for="hosts" {}
                div.form-actions { button.primary type="submit" { (t("conn.sa_submit")) } span.status #sa-status role="status" {} }
                p.form-error #sa-error role="alert" {}
            }
        }
    }
}
