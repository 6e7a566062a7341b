//! The portal of one tenant: its webhooks (subscriptions) with their health, its own plugins and its
//! connections (the editor is [`super::editor`], deliveries [`super::deliveries`]). Each page reads
//! through the API's handlers with the session's caller, so a tenant's session reaches exactly what its
//! API key would, and another tenant's pages answer 404 as the API does.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use maud::{Markup, html};
use serde_json::json;

use super::connect::view as connect;
use super::editor::{editor, rollouts_section};
use super::layout::{Page, render};
use super::operator::ChartWindow;
use super::{Ctx, canary, catalog, charts, failures, lanes, layout};
use crate::api::subscriptions::SubscriptionView;
use crate::api::{ApiResult, AppState, connections, plugins, rollouts, stats, subscriptions};
use crate::store::RolloutState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{tenant}", get(subscriptions_page))
        .route("/console/t/{tenant}/subscriptions", get(subscriptions_page))
        .route("/console/t/{tenant}/subscriptions/new", get(new_subscription))
        .route("/console/t/{tenant}/subscriptions/{id}", get(edit_subscription))
        .route("/console/t/{tenant}/plugins", get(plugins_page))
        .route("/console/t/{tenant}/connections", get(connections_page))
}

/// The portal page `page` of `tenant`.
pub fn path(tenant: &str, page: &str) -> String {
    format!("/console/t/{}/{page}", encode(tenant))
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Runs the page's reads; an API error becomes the error page.
pub(super) fn page(ctx: &Ctx, tenant: &str, here: &str, result: ApiResult<Page>) -> Response {
    match result {
        Ok(page) => render(ctx, Some(tenant), here, page),
        Err(error) => ctx.error(error),
    }
}

pub(super) fn state(ctx: &Ctx) -> State<AppState> {
    State(ctx.state.clone())
}

async fn subscriptions_page(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    let result = async {
        let Json(list) = subscriptions::list(state(&ctx), ctx.caller(), Path(tenant.clone())).await?;
        let t = |key| ctx.lang.t(key);
        let body = html! {
            p.lead { (t("subs.lead")) }
            p { a.button.primary href=(path(&tenant, "subscriptions/new")) { (t("subs.new")) } }
            @if list.is_empty() {
                p.empty { (t("common.none")) }
            } @else {
                table.list #subscriptions {
                    thead { tr {
                        th { (t("common.name")) } th { (t("subs.events")) } th { (t("subs.endpoint")) }
                        th { (t("common.status")) } th {}
                    } }
                    tbody {
                        @for s in &list {
                            @let extra = serde_json::to_value(s).unwrap_or_default();
                            tr data-id=(s.id) data-health=(extra["health"]["state"].as_str().unwrap_or("")) {
                                td.name { (display_name(&ctx, s, &extra)) }
                                td { (event_names(&ctx, &s.event_types)) }
                                td.url { (s.endpoint_url) }
                                td.health {
                                    (status_badge(&ctx, s, &extra["health"])) (lanes::blocked_badge(&ctx, s))
                                    @for d in &s.destinations { (lanes::destination_badge(&ctx, d)) }
                                    (health_details(&ctx, &extra["health"]))
                                }
                                td.actions {
                                    a href=(path(&tenant, &format!("subscriptions/{}", s.id))) { (t("common.edit")) }
                                    " · "
                                    a href={ (path(&tenant, "deliveries")) "?subscription_id=" (s.id) } { (t("subs.deliveries")) }
                                }
                            }
                        }
                    }
                }
            }
        };
        Ok(Page { title: t("subs.title").to_owned(), current: "subscriptions", body, data: json!({}) })
    }
    .await;
    page(&ctx, &tenant, &path(&tenant, "subscriptions"), result)
}

/// What she called it, else the events and where they go (`Llamada finalizada → sheets.example`).
pub(super) fn display_name(ctx: &Ctx, s: &SubscriptionView, extra: &serde_json::Value) -> String {
    if let Some(name) = extra["name"].as_str().filter(|name| !name.is_empty()) {
        return name.to_owned();
    }
    let host = url::Url::parse(&s.endpoint_url).ok().and_then(|u| u.host_str().map(str::to_owned));
    let events: Vec<String> = s.event_types.iter().map(|e| catalog::pattern_name(ctx.lang, e)).collect();
    format!("{} → {}", events.join(", "), host.unwrap_or_else(|| s.endpoint_url.clone()))
}

/// Event types by name, each with its id small.
fn event_names(ctx: &Ctx, types: &[String]) -> Markup {
    html! {
        @for (i, event_type) in types.iter().enumerate() {
            @if i > 0 { br; }
            (catalog::pattern_name(ctx.lang, event_type)) " " code.type-id { (event_type) }
        }
    }
}

/// Failing since when, the last error in her words, and the share of the last day's deliveries that failed.
fn health_details(ctx: &Ctx, health: &serde_json::Value) -> Markup {
    let t = |key| ctx.lang.t(key);
    let recent = &health["recent"];
    let (total, failed) =
        (recent["deliveries"].as_u64().unwrap_or(0), recent["failed"].as_u64().unwrap_or(0));
    let last_error = health["last_error"].as_str();
    html! {
        @if health["state"] == "failing" {
            @if let Some(since) = health["failing_since"].as_str() {
                div.health-since { (t("health.since")) " " (layout::time(since)) }
            }
            @if let Some(error) = last_error {
                @let words = failures::failure(ctx.lang, health["last_error_kind"].as_str(), None, error, None);
                div.health-error { (failures::words(&words, error)) }
            }
        }
        @if total > 0 {
            div.health-share {
                (failed) " " (t("health.of")) " " (total) " " (t("health.failed_24h"))
                " (" (failed * 100 / total) " %)"
            }
        }
    }
}

fn status_badge(ctx: &Ctx, s: &SubscriptionView, health: &serde_json::Value) -> Markup {
    let (class, key) = if !s.enabled {
        ("badge bad", "subs.disabled")
    } else if s.paused {
        ("badge warn", "subs.paused")
    } else if health["state"] == "failing" {
        ("badge bad", "health.failing")
    } else if health["state"] == "idle" {
        ("badge", "health.idle")
    } else {
        ("badge ok", "subs.active")
    };
    html! { span class=(class) { (ctx.lang.t(key)) } }
}

async fn new_subscription(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    let here = path(&tenant, "subscriptions/new");
    let result = editor(&ctx, &tenant, None).await;
    page(&ctx, &tenant, &here, result)
}

async fn edit_subscription(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    Query(chart): Query<ChartWindow>,
) -> Response {
    let here = path(&tenant, &format!("subscriptions/{id}"));
    let result = async {
        let Json(subscription) =
            subscriptions::read(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone()))).await?;
        let query = Query(charts::query(&chart.window));
        let Json(stats) =
            stats::subscription_stats(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone())), query)
                .await?;
        let candidates = canary::candidates(&ctx, &tenant, &subscription).await;
        let Json(mut rollouts) =
            rollouts::list_rollouts(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone()))).await?;
        // A rolled-back candidate's failures, kept with its rollout after its deliveries were re-run.
        for rollout in rollouts.iter_mut().filter(|r| r.state == RolloutState::RolledBack) {
            let path = Path((tenant.clone(), id.clone(), rollout.id.clone()));
            let Json(read) = rollouts::read_rollout(state(&ctx), ctx.caller(), path).await?;
            rollout.failures = read.failures;
        }
        let lanes = lanes::lanes_section(&ctx, &tenant, &subscription);
        let canary = canary::section(&ctx, &rollouts, &candidates);
        let mut page = editor(&ctx, &tenant, Some(subscription)).await?;
        let charts = charts::section(&ctx, &stats, &format!("{here}?"));
        page.body = html! { (page.body) (charts) (lanes) (rollouts_section(&ctx, &rollouts, canary)) };
        Ok(page)
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

async fn plugins_page(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    let here = path(&tenant, "plugins");
    let result = async {
        let t = |key| ctx.lang.t(key);
        let Json(own) = plugins::list_own(state(&ctx), ctx.caller(), Path(tenant.clone())).await?;
        // Every version of each of its own plugins (named `tenant/name`; the API takes `name`).
        let mut versions = Vec::new();
        for plugin in &own {
            let short = plugin.name.rsplit('/').next().unwrap_or(&plugin.name).to_owned();
            let Json(of_plugin) =
                plugins::list_own_versions(state(&ctx), ctx.caller(), Path((tenant.clone(), short.clone())))
                    .await?;
            versions.extend(of_plugin.into_iter().map(|version| (short.clone(), version)));
        }
        let Json(all) = plugins::list_plugins(state(&ctx), ctx.caller()).await?;
        let shared: Vec<_> = all.iter().filter(|p| p.tenant.is_none()).collect();
        let table = |rows: Vec<&crate::api::plugins::PluginVersionView>| html! {
            table.list {
                thead { tr { th { (t("common.name")) } th { (t("common.version")) } th { (t("common.size")) } th { (t("common.created")) } } }
                tbody {
                    @for p in rows {
                        tr { td { code { (p.name) } } td { (p.version) } td { (p.size_bytes / 1024) " KiB" } td { (layout::time(&p.created_at)) } }
                    }
                }
            }
        };
        let body = html! {
            p.lead { (t("pl.lead")) }
            h2 { (t("pl.title")) }
            @if versions.is_empty() { p.empty { (t("common.none")) } } @else {
                table.list #own-plugins {
                    thead { tr { th { (t("common.name")) } th { (t("common.version")) } th { (t("common.size")) } th { (t("common.created")) } th {} } }
                    tbody {
                        @for (short, p) in &versions {
                            tr {
                                td { code { (p.name) } } td { (p.version) } td { (p.size_bytes / 1024) " KiB" } td { (layout::time(&p.created_at)) }
                                td.actions { button.link.danger type="button" data-delete-version={ (short) "/" (p.version) } { (t("common.delete")) } }
                            }
                        }
                    }
                }
                p.form-error #versions-error role="alert" {}
            }
            section.card {
                h2 { (t("pl.upload")) }
                form #upload-form data-path={ "/v1/tenants/" (encode(&tenant)) "/plugins/" } {
                    label for="plugin-name" { (t("op.plugin_name")) }
                    input #plugin-name type="text" pattern="[a-z0-9_\\-]{1,64}" required placeholder="crm";
                    p.field-error data-error-for="name" {}
                    label for="plugin-file" { (t("pl.file")) }
                    input #plugin-file type="file" accept=".wasm,application/wasm" required;
                    progress #upload-progress max="100" value="0" hidden {}
                    div.form-actions { button.primary type="submit" { (t("pl.upload_submit")) } span.status #upload-status role="status" {} }
                    p.status #upload-following role="status" hidden {}
                    p.form-error #upload-error role="alert" {}
                }
            }
            h2 { (t("pl.shared")) }
            @if shared.is_empty() { p.empty { (t("common.none")) } } @else { (table(shared)) }
        };
        Ok(Page { title: t("nav.plugins").to_owned(), current: "plugins", body, data: json!({"page": "plugins"}) })
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

/// `?connected=<name>`: the connection a *Connect* sign-in just made or repaired.
#[derive(serde::Deserialize)]
struct ConnectionsQuery {
    connected: Option<String>,
}

async fn connections_page(
    ctx: Ctx,
    Path(tenant): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ConnectionsQuery>,
) -> Response {
    let here = path(&tenant, "connections");
    let result = async {
        let t = |key| ctx.lang.t(key);
        if !connections_on(&ctx) {
            let body = html! { p.empty #connections-off { (t("conn.off")) } };
            return Ok(Page { title: t("conn.title").to_owned(), current: "connections", body, data: json!({}) });
        }
        let Json(list) = connections::list(state(&ctx), ctx.caller(), Path(tenant.clone())).await?;
        let body = html! {
            p.lead { (t("conn.lead")) }
            (connect::connected_notice(&ctx, query.connected.as_deref()))
            (connect::connect_buttons(&ctx, &tenant))
            @if list.is_empty() {
                p.empty { (t("common.none")) }
            } @else {
                table.list #connections {
                    thead { tr {
                        th { (t("common.name")) } th { (t("conn.kind")) } th { "Hosts" } th { (t("common.status")) }
                        th { (t("conn.last_used")) } th {}
                    } }
                    tbody {
                        @for c in &list {
                            tr {
                                td { code { (c.name) } } td { (c.kind) } td { (c.hosts.join(", ")) }
                                td {
                                    span class={ "badge " (c.status) } { (c.status) }
                                    @if let Some(reason) = c.broken_reason.as_deref().or(c.last_error.as_deref()) { " " span.error-message { (reason) } }
                                    @for d in &c.destinations {
                                        (lanes::destination_badge(&ctx, d))
                                    }
                                }
                                td { @if let Some(at) = &c.last_used_at { (layout::time(at)) } @else { "—" } }
                                td.actions {
                                    (connect::reconnect(&ctx, &tenant, c))
                                    button.link data-replace=(c.name) type="button" { (t("conn.replace")) }
                                    " · "
                                    button.link.danger data-delete-connection=(c.name) type="button" { (t("common.delete")) }
                                }
                            }
                        }
                    }
                }
            }
            p.form-error #connections-error role="alert" {}
            section.card {
                h2 #connection-title { (t("conn.new")) }
                form #connection-form data-mode="create" {
                    label for="c-name" { (t("common.name")) }
                    input #c-name type="text" required placeholder="crm-main";
                    p.field-error data-error-for="name" {}
                    label for="c-hosts" { (t("conn.hosts")) }
                    input #c-hosts type="text" required placeholder="api.crm.example";
                    p.field-error data-error-for="hosts" {}
                    label for="c-kind" { (t("conn.kind")) }
                    select #c-kind { option value="header" { "header" } option value="basic" { "basic" } }
                    div #c-header {
                        label for="c-header-name" { (t("conn.header_name")) }
                        input #c-header-name type="text" placeholder="authorization";
                        label for="c-header-value" { (t("conn.header_value")) }
                        input #c-header-value type="password" autocomplete="new-password";
                    }
                    div #c-basic hidden {
                        label for="c-username" { (t("conn.username")) }
                        input #c-username type="text";
                        label for="c-password" { (t("conn.password")) }
                        input #c-password type="password" autocomplete="new-password";
                    }
                    p.field-error data-error-for="credential" {}
                    div.form-actions { button.primary type="submit" { (t("common.save")) } span.status #connection-status role="status" {} }
                    p.form-error #connection-error role="alert" {}
                }
            }
            (connect::service_account_form(&ctx, &tenant))
        };
        Ok(Page { title: t("conn.title").to_owned(), current: "connections", body, data: json!({"page": "connections"}) })
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

/// Whether the service can keep connections' secrets (`connections.keys` is set): without it the portal
/// neither lists nor offers them.
pub(super) fn connections_on(ctx: &Ctx) -> bool {
    ctx.state.connections.sealer().is_some()
}
