//! The webhook editor (a subscription, in the customer's words): when (the events, by name, and "only
//! when…" conditions built from their fields), where (the URL and method), what is sent (rows of
//! *name → variable or text* that write the template, with the raw template as the advanced view), who is
//! told when it fails, and the live preview. Integrator tools (another plugin, its configuration, the
//! delivery order, the signing secret, dry runs and canaries) wait behind "Advanced". The page's script
//! (`assets/editor.js` for the builders, `assets/console.js` for saving and the preview) does the rest.

use axum::Json;
use axum::extract::{Path, Query};
use maud::{Markup, html};
use serde_json::json;

use super::layout::{Page, or_dash};
use super::portal::state;
use super::{Ctx, catalog, failures, lanes};
use crate::api::deliveries::ListQuery;
use crate::api::rollouts::RolloutView;
use crate::api::subscriptions::SubscriptionView;
use crate::api::{ApiError, ApiResult, deliveries, event_types, plugins};
use crate::catalog::samples;

/// The event types the tenant's platforms send, with their fields (`GET …/event-types`).
pub(super) async fn tenant_catalog(ctx: &Ctx, tenant: &str) -> ApiResult<Vec<catalog::EventType>> {
    let Json(list) = event_types::list(state(ctx), ctx.caller(), Path(tenant.to_owned())).await?;
    let value = serde_json::to_value(&list.event_types).map_err(ApiError::internal)?;
    serde_json::from_value(value).map_err(ApiError::internal)
}

/// The editor page, for a new subscription or an existing one.
pub(super) async fn editor(ctx: &Ctx, tenant: &str, existing: Option<SubscriptionView>) -> ApiResult<Page> {
    let t = |key| ctx.lang.t(key);
    let Json(plugins) = plugins::list_plugins(state(ctx), ctx.caller()).await?;
    // The operator sees every tenant's plugins; this tenant may use the shared ones and its own.
    let mut names: Vec<String> =
        plugins.iter().map(|p| p.name.clone()).filter(|name| crate::tenancy::may_use(tenant, name)).collect();
    names.dedup();
    let types = tenant_catalog(ctx, tenant).await?;
    let recent = recent_events(ctx, tenant).await?;
    let chosen: Vec<String> = existing.as_ref().map(|s| s.event_types.clone()).unwrap_or_default();
    let others: Vec<&str> = chosen
        .iter()
        .map(String::as_str)
        .filter(|pattern| !types.iter().any(|ty| ty.id == *pattern))
        .collect();
    let body = html! {
        form #subscription-form.editor novalidate {
            div.columns {
                div.column {
                    label for="sub-name" { (t("ed.name")) }
                    input #sub-name type="text" maxlength="100" placeholder=(t("ed.name_example"));
                    p.field-error data-error-for="name" {}

                    h2 { "1. " (t("ed.when")) }
                    fieldset #event-types {
                        legend { (t("ed.events")) }
                        div.type-cards {
                            @for ty in &types {
                                label.check.type-card {
                                    input type="checkbox" name="event_type" value=(ty.id)
                                        checked[chosen.contains(&ty.id)];
                                    span { (catalog::type_card(ctx.lang, &ty.id)) }
                                }
                            }
                        }
                        p.field-error data-error-for="event_types" {}
                    }
                    fieldset #conditions-box {
                        legend { (t("ed.only_when")) }
                        p.hint { (t("ed.only_when_hint")) }
                        div #conditions {}
                        div.form-actions {
                            button #add-condition type="button" { "+ " (t("ed.add_condition")) }
                            label.inline #match-box hidden {
                                (t("ed.match")) " "
                                select #filter-match {
                                    option value="all" { (t("ed.match_all")) }
                                    option value="any" { (t("ed.match_any")) }
                                }
                            }
                        }
                        p.field-error data-error-for="filter" {}
                    }

                    h2 { "2. " (t("ed.where")) }
                    div.row {
                        div {
                            label for="tpl-method" { (t("tpl.method")) }
                            select #tpl-method {
                                @for method in ["POST", "GET", "PUT", "PATCH", "DELETE"] { option { (method) } }
                            }
                        }
                        div #format-box {
                            label for="tpl-format" { (t("tpl.format")) }
                            select #tpl-format {
                                option value="json" { (t("tpl.format.json")) }
                                option value="form" { (t("tpl.format.form")) }
                                option value="text" { (t("tpl.format.text")) }
                            }
                        }
                    }
                    label for="endpoint_url" { (t("subs.endpoint")) }
                    input #endpoint_url type="url" placeholder="https://crm.example/hooks";
                    p.field-error data-error-for="endpoint_url" {}

                    div #template-editor hidden {
                        h2 { "3. " (t("ed.what")) }
                        p.hint #rows-hint { (t("ed.rows_hint")) }
                        div #rows {}
                        p.hint #rows-unavailable hidden { (t("ed.rows_unavailable")) }
                        div.form-actions {
                            button #add-row type="button" { "+ " (t("ed.add_row")) }
                            button #starter type="button" { (t("ed.starter")) }
                        }
                        details #raw-template {
                            summary { (t("ed.raw")) }
                            p.hint { (t("ed.raw_hint")) }
                            label for="tpl-url" { (t("tpl.url")) }
                            input #tpl-url type="text" spellcheck="false";
                            label for="tpl-body" { (t("tpl.body")) }
                            textarea #tpl-body rows="8" spellcheck="false" {}
                        }
                        p.field-error #template-error data-error-for="config" role="alert" {}
                        h3 { (t("tpl.variables")) }
                        div #variables.variables {}
                    }
                    div #config-editor hidden {
                        label for="config-json" { (t("subs.config")) }
                        textarea #config-json rows="8" spellcheck="false" { "{}" }
                        p.field-error #config-error {}
                    }

                    h2 { "4. " (t("ed.notify")) }
                    p.hint { (t("ed.notify_hint")) }
                    div.row {
                        // E-mail only when the service has an SMTP server to send it through.
                        @if !ctx.state.config.notifications.smtp_url.is_empty() {
                            div {
                                label for="notify-email" { (t("ed.notify_email")) }
                                input #notify-email type="email" placeholder="ana@example.com";
                            }
                        }
                        div {
                            label for="notify-webhook" { (t("ed.notify_webhook")) }
                            input #notify-webhook type="url" placeholder="https://…";
                        }
                    }
                    p.field-error data-error-for="notify" {}
                    label.check {
                        input #enabled type="checkbox" checked[existing.as_ref().is_none_or(|s| s.enabled)];
                        (t("subs.enabled"))
                    }
                    div.form-actions {
                        button.primary #save type="submit" { (t("common.save")) }
                        @if existing.is_some() {
                            button.danger #delete type="button" { (t("common.delete")) }
                        }
                        span.status #save-status role="status" {}
                    }
                    p.form-error #form-error role="alert" {}
                    div.secret #secret-box hidden {}

                    details.advanced #advanced {
                        summary { (t("adv.title")) }
                        p.hint { (t("adv.lead")) }
                        h3 { (t("adv.plugin")) }
                        p.hint { (t("adv.plugin_what")) }
                        label for="plugin" { (t("subs.plugin")) }
                        select #plugin name="plugin" {
                            @for name in &names { option value=(name) { (name) } }
                        }
                        p.field-error data-error-for="plugin" {}
                        label for="other_events" { (t("subs.other_events")) }
                        input #other_events type="text" value=(others.join(", "));
                        label.check {
                            input #custom-types type="checkbox" checked[!others.is_empty()];
                            (t("adv.custom_types"))
                        }
                        (lanes::ordering_field(ctx, existing.as_ref()))
                        label.check {
                            input #trace-context type="checkbox" checked[existing.as_ref().is_some_and(|s| s.trace_context)];
                            (t("adv.trace_context"))
                        }
                        @if existing.is_some() {
                            h3 { (t("adv.secret")) }
                            p.hint { (t("adv.secret_what")) }
                            button #rotate type="button" { (t("subs.rotate")) }
                        }
                    }
                }
                div.column.preview-column {
                    h2 { (t("tpl.preview")) }
                    label for="preview-event" { (t("tpl.preview_on")) }
                    select #preview-event {}
                    p.status #preview-status role="status" {}
                    pre #preview-output.preview {}
                    @if existing.is_some() { (test_event_box(ctx)) }
                }
            }
        }
    };
    let title = if existing.is_some() { t("subs.edit") } else { t("subs.new") };
    // Every sample (two of a call that ended: answered and missed), for the preview.
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
            "catalog": catalog::for_script(ctx.lang, &types),
            "samples": samples,
            "recent": recent,
            "plugins": names,
            "template_errors": failures::template_errors_for_script(ctx.lang),
            // One key per form shown: a second click (or a retried request) creates nothing twice.
            "idempotency_key": crate::ids::new_id("idem"),
        }),
    })
}

/// "Send a test event": a type's sample or a recent event, through this subscription (on its page) or all
/// that match (on the deliveries page).
pub(super) fn test_event_box(ctx: &Ctx) -> Markup {
    let t = |key| ctx.lang.t(key);
    html! {
        section.card #test-event {
            h2 { (t("test.title")) }
            p.hint { (t("test.lead")) }
            label for="test-source" { (t("test.which")) }
            select #test-source {}
            div.form-actions {
                button.primary #send-test type="button" { (t("test.send")) }
                span.status #test-status role="status" {}
            }
            p.form-error #test-error role="alert" {}
        }
    }
}

/// The ids of the tenant's events that recent deliveries came from, newest first.
pub(super) async fn recent_events(ctx: &Ctx, tenant: &str) -> ApiResult<Vec<String>> {
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

/// Behind "Advanced" on a saved subscription: the advanced tools: a dry run, `canary` (starting one, or the one running), and the rollouts so far.
pub(super) fn rollouts_section(ctx: &Ctx, rollouts: &[RolloutView], canary: Markup) -> Markup {
    let t = |key| ctx.lang.t(key);
    html! {
        details.advanced #advanced-tools {
            summary { (t("adv.tools")) }
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
            (canary)
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
                                    td { span.badge { (r.state.as_str()) } br; (super::layout::time(&r.started_at)) }
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
}
