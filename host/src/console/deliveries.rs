//! A tenant's deliveries in its portal: the list with its filters (status, webhook, event, time in her
//! zone), naming each one's destination and what went wrong in her words; the replay of a time range; and
//! one delivery with its request, attempts and logs, retried or re-run with the current settings from
//! there. Read through the API's handlers with the session's caller, as the rest of the portal.

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::layout::{Page, or_dash, time};
use super::portal::{display_name, page, path, state};
use super::{Ctx, catalog, charts, editor, failures};
use crate::api::deliveries::{DeliveryView, ListQuery};
use crate::api::subscriptions::SubscriptionView;
use crate::api::{ApiResult, AppState, deliveries, stats, subscriptions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{tenant}/deliveries", get(deliveries_page))
        .route("/console/t/{tenant}/deliveries/{id}", get(delivery_page))
}

/// A delivery's status in words of the page's language.
fn status_label(ctx: &Ctx, status: &str) -> &'static str {
    match status {
        "pending" | "succeeded" | "failed" | "dead" | "skipped" | "plugin_error" | "superseded" => {
            ctx.lang.t(&format!("status.{status}"))
        }
        _ => ctx.lang.t("status.other"),
    }
}

#[derive(Deserialize)]
struct DeliveryFilter {
    status: Option<String>,
    event_id: Option<String>,
    subscription_id: Option<String>,
    /// Only the failing heads that hold their ordering key (`true`).
    holding_key: Option<bool>,
    /// Created at or after (RFC 3339, or a `datetime-local` value in the zone `tz` says).
    from: Option<String>,
    to: Option<String>,
    /// The visitor's zone as minutes behind UTC (JavaScript's `getTimezoneOffset`) at `from` and at `to`,
    /// set by the page's script; absent, a form time is UTC.
    from_tz: Option<i64>,
    to_tz: Option<i64>,
    /// The charts' window (`1h` or `24h`).
    window: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A filter time as the API takes it: RFC 3339, or a form's `2026-12-02T10:00` in the visitor's zone.
fn filter_time(
    field: &str,
    value: &Option<String>,
    minutes_behind_utc: Option<i64>,
) -> ApiResult<Option<i64>> {
    let Some(text) = non_empty(value) else { return Ok(None) };
    if text.len() != 16 {
        return crate::api::parse_rfc3339(field, &text).map(Some);
    }
    let at = crate::api::parse_rfc3339(field, &format!("{text}:00Z"))?;
    Ok(Some(at + minutes_behind_utc.unwrap_or(0) * 60_000))
}

/// The fields of a delivery the contract adds (`test`, `rerun_of`, `event_type`, …), read by name so that
/// the page shows them as soon as the API gives them.
fn extra(d: &DeliveryView) -> Value {
    serde_json::to_value(d).unwrap_or_default()
}

/// The badges beside a delivery's status: a test send, a re-run.
fn marks(ctx: &Ctx, extra: &Value) -> Markup {
    html! {
        @if extra["test"] == true { " " span.badge.test { (ctx.lang.t("test.badge")) } }
        @if extra["rerun_of"].is_string() { " " span.badge { (ctx.lang.t("dl.rerun_badge")) } }
    }
}

fn subscription_name(ctx: &Ctx, subs: &[SubscriptionView], id: &str) -> String {
    subs.iter()
        .find(|s| s.id == id)
        .map_or_else(|| id.to_owned(), |s| display_name(ctx, s, &serde_json::to_value(s).unwrap_or_default()))
}

async fn deliveries_page(
    ctx: Ctx,
    Path(tenant): Path<String>,
    Query(filter): Query<DeliveryFilter>,
) -> Response {
    let here = path(&tenant, "deliveries");
    let result = async {
        let t = |key| ctx.lang.t(key);
        let from = filter_time("from", &filter.from, filter.from_tz)?;
        let to = filter_time("to", &filter.to, filter.to_tz)?;
        let query = ListQuery {
            event_id: non_empty(&filter.event_id),
            subscription_id: non_empty(&filter.subscription_id),
            status: non_empty(&filter.status),
            holding_key: filter.holding_key,
            limit: Some(200),
        };
        let Json(list) =
            deliveries::list(state(&ctx), ctx.caller(), Path(tenant.clone()), Query(query)).await?;
        let Json(subs) = subscriptions::list(state(&ctx), ctx.caller(), Path(tenant.clone())).await?;
        // The charts follow the webhook filter: one subscription's, else the whole portal's.
        let window = Query(charts::query(&filter.window));
        let Json(figures) = match non_empty(&filter.subscription_id) {
            Some(id) => stats::subscription_stats(state(&ctx), ctx.caller(), Path((tenant.clone(), id)), window).await?,
            None => stats::tenant_stats(state(&ctx), ctx.caller(), Path(tenant.clone()), window).await?,
        };
        let charts_link = match non_empty(&filter.subscription_id) {
            Some(id) => format!("{here}?subscription_id={}&", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()),
            None => format!("{here}?"),
        };
        let within = |d: &DeliveryView| {
            let at = crate::api::parse_rfc3339("created_at", &d.created_at).unwrap_or(0);
            from.is_none_or(|from| at >= from) && to.is_none_or(|to| at < to)
        };
        let list: Vec<&DeliveryView> = list.iter().filter(|d| within(d)).collect();
        let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
        let body = html! {
            form #filter-form.filters method="get" action=(here) {
                div {
                    label for="f-status" { (t("common.status")) }
                    select #f-status name="status" {
                        option value="" { (t("common.any")) }
                        @for status in ["pending", "succeeded", "failed", "dead", "plugin_error", "skipped", "superseded"] {
                            option value=(status) selected[selected(&filter.status, status)] { (status_label(&ctx, status)) }
                        }
                    }
                }
                div {
                    label for="f-sub" { (t("dl.subscription")) }
                    select #f-sub name="subscription_id" {
                        option value="" { (t("common.any")) }
                        @for s in &subs {
                            option value=(s.id) selected[selected(&filter.subscription_id, &s.id)] {
                                (subscription_name(&ctx, &subs, &s.id))
                            }
                        }
                    }
                }
                div {
                    label for="f-from" { (t("common.from")) }
                    input #f-from type="datetime-local" name="from" value=(filter.from.clone().unwrap_or_default());
                    input type="hidden" name="from_tz" data-tz-for="f-from";
                }
                div {
                    label for="f-to" { (t("common.to")) }
                    input #f-to type="datetime-local" name="to" value=(filter.to.clone().unwrap_or_default());
                    input type="hidden" name="to_tz" data-tz-for="f-to";
                }
                @if let Some(window) = non_empty(&filter.window) { input type="hidden" name="window" value=(window); }
                div { button type="submit" { (t("common.filter")) } }
            }
            (charts::section(&ctx, &figures, &charts_link))
            @if let Some(event_id) = non_empty(&filter.event_id) {
                p.hint { (t("dl.event")) ": " code { (event_id) } " · " a href=(here) { (t("dl.all")) } }
            }
            @if list.is_empty() {
                p.empty { (t("dl.none")) }
            } @else {
                table.list #deliveries {
                    thead { tr {
                        th { (t("dl.when")) } th { (t("common.status")) } th { (t("dl.event")) }
                        th { (t("dl.subscription")) } th { (t("dl.destination")) } th { (t("dl.attempts")) }
                        th { (t("dl.what_happened")) }
                    } }
                    tbody {
                        @for d in &list {
                            @let extra = extra(d);
                            tr data-status=(d.status) data-test=(if extra["test"] == true { "true" } else { "false" }) {
                                td { a href=(path(&tenant, &format!("deliveries/{}", d.id))) { (time(&d.created_at)) } }
                                td { span class={ "badge " (d.status) } { (status_label(&ctx, &d.status)) } (marks(&ctx, &extra)) }
                                td { (event_cell(&ctx, &extra, &d.event_id)) }
                                td { (subscription_name(&ctx, &subs, &d.subscription_id)) }
                                td.destination { (or_dash(d.destination.as_deref())) }
                                td { (d.attempts.len()) }
                                td.error-cell { (failure_cell(&ctx, d)) }
                            }
                        }
                    }
                }
            }
            @if !subs.is_empty() {
                (editor::test_event_box(&ctx))
                section.card {
                    h2 { (t("dl.replay")) }
                    p { (t("dl.replay_lead")) }
                    form #replay-form.filters {
                        div {
                            label for="r-sub" { (t("dl.subscription")) }
                            select #r-sub {
                                @for s in &subs { option value=(s.id) { (subscription_name(&ctx, &subs, &s.id)) } }
                            }
                        }
                        div {
                            label for="r-from" { (t("common.from")) }
                            input #r-from type="datetime-local" required;
                            p.field-error data-error-for="from" {}
                        }
                        div {
                            label for="r-to" { (t("common.to")) }
                            input #r-to type="datetime-local" required;
                            p.field-error data-error-for="to" {}
                        }
                        div { button type="submit" { (t("dl.replay_submit")) } }
                    }
                    label.check {
                        input #r-rerun type="checkbox";
                        (t("dl.replay_rerun"))
                    }
                    p.hint #r-zone {}
                    p.status #replay-status role="status" {}
                    p.form-error #replay-error role="alert" {}
                }
            }
        };
        let recent = editor::recent_events(&ctx, &tenant).await?;
        let types = editor::tenant_catalog(&ctx, &tenant).await?;
        Ok(Page {
            title: t("dl.title").to_owned(),
            current: "deliveries",
            body,
            data: json!({
                "page": "deliveries",
                "recent": recent,
                "catalog": catalog::for_script(ctx.lang, &types),
                "idempotency_key": crate::ids::new_id("idem"),
            }),
        })
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

/// The event by her name for its type (when the API says it), the id small.
fn event_cell(ctx: &Ctx, extra: &Value, event_id: &str) -> Markup {
    html! {
        @if let Some(event_type) = extra["event_type"].as_str() {
            (catalog::type_name(ctx.lang, event_type)) br;
        }
        code.type-id { (event_id) }
    }
}

fn failure_cell(ctx: &Ctx, d: &DeliveryView) -> Markup {
    match failures::delivery_failure(ctx.lang, d) {
        Some(words) => {
            let original = d.error.clone().or_else(|| d.attempts.last().and_then(|a| a.error.clone()));
            failures::words(&words, original.as_deref().unwrap_or(""))
        }
        None => html! {},
    }
}

async fn delivery_page(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    let here = path(&tenant, &format!("deliveries/{id}"));
    let result = async {
        let t = |key| ctx.lang.t(key);
        let Json(d) = deliveries::read(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone()))).await?;
        let Json(subs) = subscriptions::list(state(&ctx), ctx.caller(), Path(tenant.clone())).await?;
        let extra = extra(&d);
        let body = html! {
            dl.facts {
                dt { (t("common.status")) }
                dd {
                    span #delivery-status class={ "badge " (d.status) } data-status=(d.status) { (status_label(&ctx, &d.status)) }
                    (marks(&ctx, &extra))
                }
                dt { (t("dl.event")) } dd { (event_cell(&ctx, &extra, &d.event_id)) }
                dt { (t("dl.subscription")) } dd {
                    a href=(path(&tenant, &format!("subscriptions/{}", d.subscription_id))) { (subscription_name(&ctx, &subs, &d.subscription_id)) }
                }
                dt { (t("dl.destination")) } dd { (or_dash(d.destination.as_deref())) }
                dt { (t("dl.when")) } dd { (time(&d.created_at)) }
                @if let Some(next) = &d.next_attempt_at { dt { (t("dl.next")) } dd { (time(next)) } }
                @if let Some(words) = failures::delivery_failure(ctx.lang, &d) {
                    dt { (t("dl.what_happened")) }
                    dd.error-message #delivery-error { (words) }
                }
                @if let Some(of) = extra["rerun_of"].as_str() {
                    dt { (t("dl.rerun_of")) } dd { a href=(path(&tenant, &format!("deliveries/{of}"))) { code { (of) } } }
                }
            }
            @if d.status == "plugin_error" {
                p.note #rerun-note { (t("dl.plugin_error_note")) }
            }
            div.form-actions {
                button.primary #retry type="button" { (t("dl.retry")) }
                button #rerun type="button" { (t("dl.rerun")) }
                span.status #retry-status role="status" {}
            }
            div.question #retry-question hidden {
                p #retry-question-text {}
                div.form-actions {
                    button.primary #answer-same type="button" { (t("dl.same_again")) }
                    button #answer-current type="button" { (t("dl.with_current")) }
                    button.link #answer-cancel type="button" { (t("common.cancel")) }
                }
            }
            p.form-error #retry-error role="alert" {}
            @if let Some(request) = &d.request {
                h2 { (t("dl.request")) }
                pre.preview #delivery-request {
                    (request.method) " " (request.url) "\n"
                    @for (name, value) in &request.headers { (name) ": " (value) "\n" }
                    "\n"
                    (request.body.as_deref().or(request.body_base64.as_deref()).unwrap_or(""))
                }
            }
            h2 { (t("dl.attempts")) }
            @if d.attempts.is_empty() {
                p.empty { (t("common.none")) }
            } @else {
                table.list #attempts {
                    thead { tr { th { (t("dl.at")) } th { (t("dl.http")) } th { (t("dl.latency")) } th { (t("dl.response")) } } }
                    tbody {
                        @for a in &d.attempts {
                            tr {
                                td { (time(&a.at)) }
                                td { (a.status_code.map_or("—".to_owned(), |c| c.to_string())) }
                                td { (a.latency_ms) " ms" }
                                td.response {
                                    @if let Some(error) = &a.error {
                                        (failures::words(&failures::failure(ctx.lang, None, a.status_code, error, d.destination.as_deref()), error)) " "
                                    }
                                    code { (a.response) }
                                }
                            }
                        }
                    }
                }
            }
            details.advanced #for-integrators {
                summary { (t("dl.for_integrators")) }
                dl.facts {
                    dt { (t("common.id")) } dd { code { (d.id) } }
                    dt { (t("subs.plugin")) } dd { code { (d.plugin) } }
                    @if let Some(error) = &d.error {
                        dt { (t("dl.error")) }
                        dd { @if let Some(kind) = &d.error_kind { code { (kind) } " " } code #delivery-error-raw { (error) } }
                    }
                }
                @if !d.logs.is_empty() {
                    h3 { (t("dl.logs")) }
                    (log_lines(&d.logs))
                }
            }
        };
        Ok(Page {
            title: t("dl.one").to_owned(),
            current: "deliveries",
            body,
            data: json!({
                "page": "delivery",
                "delivery": {
                    "id": d.id,
                    "event_id": d.event_id,
                    "status": d.status,
                    "subscription_changed_since": extra["subscription_changed_since"] == true,
                },
            }),
        })
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

/// A run's log lines, one `level message` a line.
pub(super) fn log_lines(lines: &[crate::runtime::LogLine]) -> Markup {
    html! {
        pre.preview {
            @for line in lines {
                (serde_json::to_value(line.level).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
                " " (line.message) "\n"
            }
        }
    }
}
