//! A tenant's deliveries in its portal: the list with its filters (status, subscription, event, time) and
//! the replay of a time range, and one delivery with its request, attempts, logs and error, retried from
//! there. Read through the API's handlers with the session's caller, as the rest of the portal.

use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use super::layout::{Page, or_dash};
use super::portal::{page, path, state};
use crate::api::deliveries::{DeliveryView, ListQuery};
use crate::api::{ApiResult, AppState, deliveries, subscriptions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/t/{tenant}/deliveries", get(deliveries_page))
        .route("/console/t/{tenant}/deliveries/{id}", get(delivery_page))
}

/// A delivery's status in words of the page's language.
fn status_label(ctx: &Ctx, status: &str) -> &'static str {
    ctx.lang.t(&format!("status.{status}"))
}

#[derive(Deserialize)]
struct DeliveryFilter {
    status: Option<String>,
    event_id: Option<String>,
    subscription_id: Option<String>,
    /// Only the failing heads that hold their ordering key (`true`).
    holding_key: Option<bool>,
    /// Created at or after (RFC 3339, or a `datetime-local` value).
    from: Option<String>,
    to: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A filter time as the API takes it: RFC 3339, or a form's `2026-12-02T10:00` read as UTC.
fn filter_time(field: &str, value: &Option<String>) -> ApiResult<Option<i64>> {
    let Some(text) = non_empty(value) else { return Ok(None) };
    let full = if text.len() == 16 { format!("{text}:00Z") } else { text };
    crate::api::parse_rfc3339(field, &full).map(Some)
}

async fn deliveries_page(
    ctx: Ctx,
    Path(tenant): Path<String>,
    Query(filter): Query<DeliveryFilter>,
) -> Response {
    let here = path(&tenant, "deliveries");
    let result = async {
        let t = |key| ctx.lang.t(key);
        let (from, to) = (filter_time("from", &filter.from)?, filter_time("to", &filter.to)?);
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
        let within = |d: &DeliveryView| {
            let at = crate::api::parse_rfc3339("created_at", &d.created_at).unwrap_or(0);
            from.is_none_or(|from| at >= from) && to.is_none_or(|to| at < to)
        };
        let list: Vec<&DeliveryView> = list.iter().filter(|d| within(d)).collect();
        let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
        let body = html! {
            form.filters method="get" action=(here) {
                div {
                    label for="f-status" { (t("common.status")) }
                    select #f-status name="status" {
                        option value="" { (t("common.any")) }
                        @for status in ["pending", "succeeded", "failed", "dead", "skipped", "plugin_error"] {
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
                                (s.event_types.join(", ")) " → " (s.endpoint_url)
                            }
                        }
                    }
                }
                div {
                    label for="f-event" { (t("dl.event")) }
                    input #f-event type="text" name="event_id" value=(filter.event_id.clone().unwrap_or_default());
                }
                div {
                    label for="f-from" { (t("common.from")) " (UTC)" }
                    input #f-from type="datetime-local" name="from" value=(filter.from.clone().unwrap_or_default());
                }
                div {
                    label for="f-to" { (t("common.to")) " (UTC)" }
                    input #f-to type="datetime-local" name="to" value=(filter.to.clone().unwrap_or_default());
                }
                div { button type="submit" { (t("common.filter")) } }
            }
            @if list.is_empty() {
                p.empty { (t("dl.none")) }
            } @else {
                table.list #deliveries {
                    thead { tr {
                        th { (t("common.created")) } th { (t("common.status")) } th { (t("dl.event")) }
                        th { (t("subs.plugin")) } th { (t("dl.attempts")) } th { (t("dl.error")) }
                    } }
                    tbody {
                        @for d in &list {
                            tr data-status=(d.status) {
                                td { a href=(path(&tenant, &format!("deliveries/{}", d.id))) { (d.created_at) } }
                                td { span class={ "badge " (d.status) } { (status_label(&ctx, &d.status)) } }
                                td { code { (d.event_id) } }
                                td { code { (d.plugin) } }
                                td { (d.attempts.len()) }
                                td.error-cell { (or_dash(d.error.as_deref())) }
                            }
                        }
                    }
                }
            }
            @if !subs.is_empty() {
                section.card {
                    h2 { (t("dl.replay")) }
                    p { (t("dl.replay_lead")) }
                    form #replay-form.filters {
                        div {
                            label for="r-sub" { (t("dl.subscription")) }
                            select #r-sub {
                                @for s in &subs { option value=(s.id) { (s.event_types.join(", ")) " → " (s.endpoint_url) } }
                            }
                        }
                        div {
                            label for="r-from" { (t("common.from")) " (UTC)" }
                            input #r-from type="datetime-local" required;
                            p.field-error data-error-for="from" {}
                        }
                        div {
                            label for="r-to" { (t("common.to")) " (UTC)" }
                            input #r-to type="datetime-local" required;
                            p.field-error data-error-for="to" {}
                        }
                        div { button type="submit" { (t("dl.replay_submit")) } }
                    }
                    p.status #replay-status role="status" {}
                    p.form-error #replay-error role="alert" {}
                }
            }
        };
        Ok(Page { title: t("dl.title").to_owned(), current: "deliveries", body, data: json!({"page": "deliveries"}) })
    }
    .await;
    page(&ctx, &tenant, &here, result)
}

async fn delivery_page(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    let here = path(&tenant, &format!("deliveries/{id}"));
    let result = async {
        let t = |key| ctx.lang.t(key);
        let Json(d) = deliveries::read(state(&ctx), ctx.caller(), Path((tenant.clone(), id.clone()))).await?;
        let body = html! {
            dl.facts {
                dt { (t("common.status")) } dd { span #delivery-status class={ "badge " (d.status) } data-status=(d.status) { (status_label(&ctx, &d.status)) } }
                dt { (t("dl.event")) } dd { code { (d.event_id) } }
                dt { (t("dl.subscription")) } dd {
                    a href=(path(&tenant, &format!("subscriptions/{}", d.subscription_id))) { code { (d.subscription_id) } }
                }
                dt { (t("subs.plugin")) } dd { code { (d.plugin) } }
                dt { (t("common.created")) } dd { (d.created_at) }
                @if let Some(next) = &d.next_attempt_at { dt { (t("dl.next")) } dd { (next) } }
                @if let Some(error) = &d.error {
                    dt { (t("dl.error")) }
                    dd.error-message { @if let Some(kind) = &d.error_kind { code { (kind) } " " } (error) }
                }
            }
            div.form-actions {
                button.primary #retry type="button" data-delivery=(d.id) { (t("dl.retry")) }
                span.status #retry-status role="status" {}
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
                                td { (a.at) }
                                td { (a.status_code.map_or("—".to_owned(), |c| c.to_string())) }
                                td { (a.latency_ms) " ms" }
                                td.response { @if let Some(error) = &a.error { span.error-message { (error) } " " } code { (a.response) } }
                            }
                        }
                    }
                }
            }
            @if !d.logs.is_empty() {
                h2 { (t("dl.logs")) }
                (log_lines(&d.logs))
            }
        };
        Ok(Page { title: format!("{} {}", t("dl.one"), d.id), current: "deliveries", body, data: json!({"page": "delivery"}) })
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
