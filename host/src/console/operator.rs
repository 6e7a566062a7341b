//! The operator's console: an overview of the whole service from the figures `/metrics` serves, the
//! tenants (create one, give it a key, mint a portal link, send it a sample event) and the shared plugins.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use maud::html;
use serde_json::json;

use super::layout::{Page, render};
use super::{Ctx, charts};
use crate::api::{ApiResult, AppState, ops, plugins, stats, tenants};
use crate::catalog::samples;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/operator", get(overview))
        .route("/console/operator/tenants", get(tenants_page))
        .route("/console/operator/plugins", get(plugins_page))
}

fn page(ctx: &Ctx, here: &str, result: ApiResult<Page>) -> Response {
    match result.and_then(|page| ctx.caller().require_operator().map(|()| page)) {
        Ok(page) => render(ctx, None, here, page),
        Err(error) => ctx.error(error),
    }
}

/// One series of the metrics text: its labels and value.
struct Series {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The series of the OpenMetrics text, by metric name (with its `_total`).
fn parse_metrics(text: &str) -> BTreeMap<String, Vec<Series>> {
    let mut metrics: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter_map(|pair| pair.split_once("=\""))
            .map(|(key, value)| (key.to_owned(), value.trim_end_matches('"').to_owned()))
            .collect();
        metrics.entry(name.to_owned()).or_default().push(Series { labels, value });
    }
    metrics
}

/// A page's `?window=` for its charts.
#[derive(serde::Deserialize)]
pub(super) struct ChartWindow {
    pub window: Option<String>,
}

async fn overview(ctx: Ctx, Query(chart): Query<ChartWindow>) -> Response {
    let result = async {
        ctx.caller().require_operator()?;
        let Json(stats) =
            stats::service_stats(State(ctx.state.clone()), ctx.caller(), Query(charts::query(&chart.window))).await?;
        let metrics = parse_metrics(&ops::metrics_text(&ctx.state).await);
        let t = |key| ctx.lang.t(key);
        let series = |name: &str| metrics.get(name).map(Vec::as_slice).unwrap_or_default();
        let single = |name: &str| series(name).first().map_or(0.0, |s| s.value);
        let by = |name: &str, label: &str| -> Vec<(String, f64)> {
            series(name).iter().map(|s| (s.labels.get(label).cloned().unwrap_or_default(), s.value)).collect()
        };
        // Labels from the metrics are values (code); the backlog's are words.
        let figures_of = |rows: Vec<(String, f64)>, words: bool| html! {
            @if rows.is_empty() { p.empty { (t("common.none")) } } @else {
                table.list.figures { tbody { @for (label, value) in &rows { tr {
                    td { @if words { (label) } @else { code { (label) } } }
                    td.number data-label=(label) { (value) }
                } } } }
            }
        };
        let figures = |rows| figures_of(rows, false);
        let body = html! {
            p.lead { (t("op.from_metrics")) " " a href="/metrics" { "/metrics" } }
            div.cards #overview {
                section.card { h2 { (t("op.events_in")) } (figures(by("gancho_events_received_total", "outcome"))) }
                section.card { h2 { (t("op.deliveries")) } (figures(by("gancho_delivery_attempts_total", "status"))) }
                section.card {
                    h2 { (t("op.plugin_errors")) }
                    (figures(series("gancho_plugin_failures_total").iter().map(|s| {
                        let label = format!("{} · {}", s.labels.get("plugin").map_or("", String::as_str), s.labels.get("kind").map_or("", String::as_str));
                        (label, s.value)
                    }).collect()))
                }
                section.card {
                    h2 { (t("op.backlog")) }
                    (figures_of(vec![
                        (t("op.events_pending").to_owned(), single("gancho_events_pending")),
                        (t("op.deliveries_pending").to_owned(), single("gancho_deliveries_pending")),
                        (t("op.oldest").to_owned(), single("gancho_oldest_pending_age_seconds")),
                    ], true))
                }
            }
            (charts::section(&ctx, &stats, "/console/operator?"))
        };
        Ok(Page { title: t("op.overview").to_owned(), current: "overview", body, data: json!({"page": "overview"}) })
    }
    .await;
    page(&ctx, "/console/operator", result)
}

async fn tenants_page(ctx: Ctx) -> Response {
    let result = async {
        let Json(list) = tenants::list_tenants(State(ctx.state.clone()), ctx.caller()).await?;
        let t = |key| ctx.lang.t(key);
        let body = html! {
            section.card {
                h2 { (t("op.new_tenant")) }
                form #tenant-form.filters {
                    div {
                        label for="t-id" { (t("op.tenant_id")) }
                        input #t-id type="text" required placeholder="acme";
                        p.field-error data-error-for="id" {}
                    }
                    div {
                        label for="t-name" { (t("common.name")) }
                        input #t-name type="text" required placeholder="Acme";
                        p.field-error data-error-for="name" {}
                    }
                    div { button.primary type="submit" { (t("common.create")) } }
                }
                p.form-error #tenant-error role="alert" {}
            }
            div.secret #tenant-result hidden {}
            @if list.is_empty() {
                p.empty { (t("common.none")) }
            } @else {
                table.list #tenants {
                    thead { tr { th { (t("common.id")) } th { (t("common.name")) } th { (t("common.created")) } th {} } }
                    tbody {
                        @for tenant in &list {
                            tr data-tenant=(tenant.id) {
                                td { code { (tenant.id) } }
                                td { (tenant.name) }
                                td { (tenant.created_at) }
                                td.actions {
                                    a href=(super::portal::path(&tenant.id, "subscriptions")) { (t("op.open_portal")) }
                                    " · "
                                    a href=(super::keys::path(&tenant.id)) { (t("keys.link")) }
                                    " · "
                                    button.link type="button" data-new-key=(tenant.id) { (t("op.new_key")) }
                                    " · "
                                    button.link type="button" data-portal-link=(tenant.id) { (t("op.portal_link")) }
                                    " · "
                                    span.sample {
                                        select data-sample-for=(tenant.id) aria-label=(t("op.send_sample")) {
                                            @for event_type in samples::EVENT_TYPES { option { (event_type) } }
                                        }
                                        button.link type="button" data-send-sample=(tenant.id) { (t("op.send_sample")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        let samples: serde_json::Map<String, serde_json::Value> = samples::all().into_iter().collect();
        Ok(Page { title: t("op.tenants").to_owned(), current: "tenants", body, data: json!({"page": "tenants", "samples": samples}) })
    }
    .await;
    page(&ctx, "/console/operator/tenants", result)
}

async fn plugins_page(ctx: Ctx) -> Response {
    let result = async {
        ctx.caller().require_operator()?;
        let Json(all) = plugins::list_plugins(State(ctx.state.clone()), ctx.caller()).await?;
        let t = |key| ctx.lang.t(key);
        let body = html! {
            section.card {
                h2 { (t("pl.upload")) }
                form #upload-form data-path="/v1/plugins/" {
                    label for="plugin-name" { (t("op.plugin_name")) }
                    input #plugin-name type="text" required placeholder="template";
                    p.field-error data-error-for="name" {}
                    label for="plugin-file" { (t("pl.file")) }
                    input #plugin-file type="file" accept=".wasm,application/wasm" required;
                    progress #upload-progress max="100" value="0" hidden {}
                    div.form-actions { button.primary type="submit" { (t("pl.upload_submit")) } span.status #upload-status role="status" {} }
                    p.status #upload-following role="status" hidden {}
                    p.form-error #upload-error role="alert" {}
                }
            }
            @if all.is_empty() {
                p.empty { (t("common.none")) }
            } @else {
                table.list #plugins {
                    thead { tr { th { (t("common.name")) } th { (t("common.version")) } th { (t("common.size")) } th { (t("common.digest")) } th { (t("common.created")) } } }
                    tbody {
                        @for p in &all {
                            tr { td { code { (p.name) } } td { (p.version) } td { (p.size_bytes / 1024) " KiB" } td.digest { code { (p.digest) } } td { (p.created_at) } }
                        }
                    }
                }
            }
        };
        Ok(Page { title: t("op.shared_plugins").to_owned(), current: "shared-plugins", body, data: json!({"page": "plugins"}) })
    }
    .await;
    page(&ctx, "/console/operator/plugins", result)
}

#[cfg(test)]
mod tests {
    #[test]
    fn metrics_text_is_read_by_name_and_labels() {
        let text = "# TYPE gancho_events_received counter\ngancho_events_received_total{outcome=\"new\"} 3\n\
                    gancho_plugin_failures_total{plugin=\"acme/crm@2\",kind=\"trap\"} 1\ngancho_events_pending 7\n# EOF\n";
        let metrics = super::parse_metrics(text);
        assert_eq!(metrics["gancho_events_received_total"][0].labels["outcome"], "new");
        assert_eq!(metrics["gancho_events_received_total"][0].value, 3.0);
        assert_eq!(metrics["gancho_plugin_failures_total"][0].labels["plugin"], "acme/crm@2");
        assert_eq!(metrics["gancho_plugin_failures_total"][0].labels["kind"], "trap");
        assert_eq!(metrics["gancho_events_pending"][0].value, 7.0);
    }
}
