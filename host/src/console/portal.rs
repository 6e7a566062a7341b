//! The portal of one tenant: its subscriptions (with the template editor), own plugins and connections
//! (its deliveries are in [`super::deliveries`]). Each page reads through the API's handlers with the session's caller, so a tenant's
//! session reaches exactly what its API key would, and another tenant's pages answer 404 as the API does.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use maud::{Markup, html};
use serde_json::json;

use super::layout::{Page, or_dash, render};
use super::{Ctx, lanes};
use crate::api::deliveries::ListQuery;
use crate::api::rollouts::RolloutView;
use crate::api::subscriptions::SubscriptionView;
use crate::api::{ApiResult, AppState, connections, deliveries, plugins, rollouts, subscriptions};
use crate::catalog::samples;
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
                        th { (t("subs.events")) } th { (t("subs.plugin")) } th { (t("subs.endpoint")) }
                        th { (t("common.status")) } th {}
                    } }
                    tbody {
                        @for s in &list {
                            tr data-id=(s.id) {
                                td { (s.event_types.join(", ")) }
                                td { code { (s.plugin) } }
                                td.url { (s.endpoint_url) }
                                td {
                                    (status_badge(&ctx, s)) (lanes::blocked_badge(&ctx, s))
                                    @for d in &s.destinations { (lanes::destination_badge(&ctx, d)) }
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

fn status_badge(ctx: &Ctx, s: &SubscriptionView) -> Markup {
    let (class, key) = if !s.enabled {
        ("badge bad", "subs.disabled")
    } else if s.paused {
        ("badge warn", "subs.paused")
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

async fn edit_subscription(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    let here = path(&tenant, &format!("subscriptions/{id}"));
    let result = async {
        let Json(subscription) =
            subscriptions::read(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone()))).await?;
        let Json(mut rollouts) =
            rollouts::list_rollouts(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone()))).await?;
        // A rolled-back candidate's failures, kept with its rollout after its deliveries were re-run.
        for rollout in rollouts.iter_mut().filter(|r| r.state == RolloutState::RolledBack) {
            let path = Path((tenant.clone(), id.clone(), rollout.id.clone()));
            let Json(read) = rollouts::read_rollout(state(&ctx), ctx.caller(), path).await?;
            rollout.failures = read.failures;
        }
        let lanes = lanes::lanes_section(&ctx, &tenant, &subscription);
        let mut page = editor(&ctx, &tenant, Some(subscription)).await?;
        page.body = html! { (page.body) (lanes) (rollouts_section(&ctx, &rollouts)) };
        Ok(page)
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

/// The subscription's canary rollouts (started through the API), newest first, with each version's figures.
fn rollouts_section(ctx: &Ctx, rollouts: &[RolloutView]) -> Markup {
    let t = |key| ctx.lang.t(key);
    html! {
        section.card #dry-run {
            h2 { (t("dr.title")) }
            p { (t("dr.lead")) }
            form #dry-run-form.filters {
                div {
                    label for="dr-version" { (t("dr.version")) }
                    input #dr-version type="number" min="1" placeholder=(t("dr.latest"));
                    p.field-error data-error-for="candidate_version" {}
                }
                div {
                    label for="dr-last" { (t("dr.last")) }
                    input #dr-last type="number" min="1" max="10000" value="100";
                    p.field-error data-error-for="events" {}
                }
                div { button.primary type="submit" { (t("dr.start")) } }
            }
            progress #dry-run-progress max="100" value="0" hidden {}
            p.status #dry-run-status role="status" {}
            p.form-error #dry-run-error role="alert" {}
            pre.preview #dry-run-report hidden {}
        }
        section.card #rollouts {
            h2 { (t("ro.title")) }
            @if rollouts.is_empty() {
                p.empty { (t("ro.none")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (t("common.status")) } th { (t("ro.versions")) } th { (t("ro.figures")) } th { (t("ro.reason")) }
                    } }
                    tbody {
                        @for r in rollouts {
                            tr data-state=(r.state.as_str()) {
                                td { span.badge { (r.state.as_str()) } br; (r.started_at) }
                                td { code { (r.current) } " → " code { (r.candidate) } " (" (r.percent) " %)" }
                                td {
                                    @for f in &r.figures {
                                        div { code { (f.plugin) } ": " (f.events) " " (t("ro.events")) ", "
                                            (f.plugin_errors) " " (t("ro.plugin_errors")) ", " (f.delivered) " " (t("ro.delivered")) ", "
                                            (f.destination_failures) " " (t("ro.failures")) }
                                    }
                                }
                                td { (or_dash(r.reason.as_deref())) }
                            }
                            @if let Some(failures) = r.failures.as_ref().filter(|f| !f.is_empty()) {
                                tr.rollout-failures { td colspan="4" { details {
                                    summary { (t("ro.kept_failures")) " (" (failures.len()) ")" }
                                    @for f in failures {
                                        div.rollout-failure data-event=(f.event_id) {
                                            code { (f.event_id) } " " span.badge { (f.error_kind.as_deref().unwrap_or(f.status.as_str())) }
                                            " " (or_dash(f.error.as_deref()))
                                            @if !f.logs.is_empty() { (super::deliveries::log_lines(&f.logs)) }
                                        }
                                    }
                                } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The subscription editor: event types, plugin, endpoint; for the template plugin the no-code editor
/// with its variables and live preview, for others the configuration as JSON.
async fn editor(ctx: &Ctx, tenant: &str, existing: Option<SubscriptionView>) -> ApiResult<Page> {
    let t = |key| ctx.lang.t(key);
    let Json(plugins) = plugins::list_plugins(state(ctx), ctx.caller()).await?;
    // The operator sees every tenant's plugins; this tenant may use the shared ones and its own.
    let mut names: Vec<String> =
        plugins.iter().map(|p| p.name.clone()).filter(|name| crate::tenancy::may_use(tenant, name)).collect();
    names.dedup();
    let recent = recent_events(ctx, tenant).await?;
    let chosen: Vec<String> = existing.as_ref().map(|s| s.event_types.clone()).unwrap_or_default();
    let others: Vec<&str> =
        chosen.iter().map(String::as_str).filter(|pattern| !samples::EVENT_TYPES.contains(pattern)).collect();
    let body = html! {
        form #subscription-form.editor novalidate {
            div.columns {
                div.column {
                    fieldset {
                        legend { (t("subs.events")) }
                        div.checks {
                            @for event_type in samples::EVENT_TYPES {
                                label.check {
                                    input type="checkbox" name="event_type" value=(event_type)
                                        checked[chosen.iter().any(|c| c == event_type)];
                                    code { (event_type) }
                                }
                            }
                        }
                        label for="other_events" { (t("subs.other_events")) }
                        input #other_events type="text" value=(others.join(", "));
                        p.field-error data-error-for="event_types" {}
                    }
                    label for="plugin" { (t("subs.plugin")) }
                    select #plugin name="plugin" {
                        @for name in &names { option value=(name) { (name) } }
                    }
                    p.field-error data-error-for="plugin" {}
                    label for="endpoint_url" { (t("subs.endpoint")) }
                    input #endpoint_url type="url" placeholder="https://crm.example/hooks";
                    p.field-error data-error-for="endpoint_url" {}
                    div #template-editor hidden {
                        h2 { (t("tpl.title")) }
                        div.row {
                            div {
                                label for="tpl-format" { (t("tpl.format")) }
                                select #tpl-format {
                                    option value="json" { (t("tpl.format.json")) }
                                    option value="text" { (t("tpl.format.text")) }
                                    option value="form" { (t("tpl.format.form")) }
                                }
                            }
                            div {
                                label for="tpl-method" { (t("tpl.method")) }
                                select #tpl-method {
                                    @for method in ["POST", "PUT", "PATCH", "GET", "DELETE"] { option { (method) } }
                                }
                            }
                        }
                        label for="tpl-url" { (t("tpl.url")) }
                        input #tpl-url type="text" spellcheck="false";
                        label for="tpl-body" { (t("tpl.body")) }
                        textarea #tpl-body rows="10" spellcheck="false" {}
                        p.field-error #template-error data-error-for="config" role="alert" {}
                        h3 { (t("tpl.variables")) }
                        div #variables.variables {}
                    }
                    div #config-editor hidden {
                        label for="config-json" { (t("subs.config")) }
                        textarea #config-json rows="8" spellcheck="false" { "{}" }
                        p.field-error #config-error {}
                    }
                    (lanes::ordering_field(ctx, existing.as_ref()))
                    label.check {
                        input #enabled type="checkbox" checked[existing.as_ref().is_none_or(|s| s.enabled)];
                        (t("subs.enabled"))
                    }
                    div.form-actions {
                        button.primary #save type="submit" { (t("common.save")) }
                        @if existing.is_some() {
                            button #rotate type="button" { (t("subs.rotate")) }
                            button.danger #delete type="button" { (t("common.delete")) }
                        }
                        span.status #save-status role="status" {}
                    }
                    p.form-error #form-error role="alert" {}
                    div.secret #secret-box hidden {}
                }
                div.column.preview-column {
                    h2 { (t("tpl.preview")) }
                    label for="preview-event" { (t("tpl.preview_on")) }
                    select #preview-event {}
                    p.status #preview-status role="status" {}
                    pre #preview-output.preview {}
                }
            }
        }
    };
    let title = if existing.is_some() { t("subs.edit") } else { t("subs.new") };
    let samples: Vec<serde_json::Value> = samples::all()
        .into_iter()
        .map(|(event_type, event)| json!({"type": event_type, "event": event}))
        .collect();
    Ok(Page {
        title: title.to_owned(),
        current: "subscriptions",
        body,
        data: json!({
            "page": "subscription",
            "subscription": existing,
            "samples": samples,
            "recent": recent,
            "plugins": names,
        }),
    })
}

/// The ids of the tenant's events that recent deliveries came from, newest first.
async fn recent_events(ctx: &Ctx, tenant: &str) -> ApiResult<Vec<String>> {
    let query =
        ListQuery { event_id: None, subscription_id: None, status: None, holding_key: None, limit: Some(50) };
    let Json(list) =
        deliveries::list(state(ctx), ctx.caller(), Path(tenant.to_owned()), Query(query)).await?;
    let mut ids: Vec<String> = Vec::new();
    for delivery in list {
        if !ids.contains(&delivery.event_id) {
            ids.push(delivery.event_id);
        }
    }
    ids.truncate(10);
    Ok(ids)
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
                        tr { td { code { (p.name) } } td { (p.version) } td { (p.size_bytes / 1024) " KiB" } td { (p.created_at) } }
                    }
                }
            }
        };
        let body = html! {
            h2 { (t("pl.title")) }
            @if versions.is_empty() { p.empty { (t("common.none")) } } @else {
                table.list #own-plugins {
                    thead { tr { th { (t("common.name")) } th { (t("common.version")) } th { (t("common.size")) } th { (t("common.created")) } th {} } }
                    tbody {
                        @for (short, p) in &versions {
                            tr {
                                td { code { (p.name) } } td { (p.version) } td { (p.size_bytes / 1024) " KiB" } td { (p.created_at) }
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

async fn connections_page(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    let here = path(&tenant, "connections");
    let result = async {
        let t = |key| ctx.lang.t(key);
        let Json(list) = connections::list(state(&ctx), ctx.caller(), Path(tenant.clone())).await?;
        let body = html! {
            p.lead { (t("conn.lead")) }
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
                                td { (or_dash(c.last_used_at.as_deref())) }
                                td.actions {
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
        };
        Ok(Page { title: t("conn.title").to_owned(), current: "connections", body, data: json!({"page": "connections"}) })
    }
    .await;
    page(&ctx, &tenant, &here, result)
}
