//! Starting a canary from a webhook's page (under its advanced tools): the candidate version, chosen
//! among the stored versions of its plugin, and the share of events; while one runs, what it compares and
//! the buttons that promote it or roll it back. The page's script calls the rollouts API
//! (`POST …/rollouts`, `…/promote`, `…/rollback`) with the session's CSRF token.

use axum::Json;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::Ctx;
use crate::api::plugins;
use crate::api::rollouts::RolloutView;
use crate::api::subscriptions::SubscriptionView;
use crate::store::RolloutState;

/// The versions a canary of `subscription` may try: its plugin's stored versions but the one it runs
/// (pinned, else the latest), newest first; empty when they cannot be listed (the form then asks for a
/// number).
pub async fn candidates(ctx: &Ctx, tenant: &str, subscription: &SubscriptionView) -> Vec<u32> {
    let (name, pinned) = match subscription.plugin.rsplit_once('@') {
        Some((name, version)) => (name, version.parse::<u32>().ok()),
        None => (subscription.plugin.as_str(), None),
    };
    let state = State(ctx.state.clone());
    let listed = match name.split_once('/') {
        Some((_, short)) => {
            plugins::list_own_versions(state, ctx.caller(), Path((tenant.to_owned(), short.to_owned()))).await
        }
        None => plugins::list_shared_versions(state, ctx.caller(), Path(name.to_owned())).await,
    };
    let Ok(Json(versions)) = listed else { return Vec::new() };
    let mut numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    let current = pinned.or_else(|| numbers.first().copied());
    numbers.retain(|n| Some(*n) != current);
    numbers
}

/// The canary's card: the one running with its buttons, else the form to start one.
pub fn section(ctx: &Ctx, rollouts: &[RolloutView], candidates: &[u32]) -> Markup {
    let t = |key| ctx.lang.t(key);
    let running = rollouts.iter().find(|r| r.state == RolloutState::Running);
    html! {
        section.card #canary {
            h2 { (t("canary.title")) }
            @if let Some(rollout) = running {
                div.running #canary-running data-rollout=(rollout.id) {
                    p {
                        span.badge.warn { (t("canary.running")) } " "
                        code { (rollout.current) } " → " code { (rollout.candidate) } " (" (rollout.percent) " %)"
                    }
                    div.form-actions {
                        button.primary type="button" data-rollout-end="promote" data-rollout=(rollout.id) { (t("canary.promote")) }
                        button.danger type="button" data-rollout-end="rollback" data-rollout=(rollout.id) { (t("canary.rollback")) }
                    }
                }
            } @else {
                p { (t("canary.lead")) }
                form #canary-form.filters {
                    div {
                        label for="canary-version" { (t("canary.version")) }
                        @if candidates.is_empty() {
                            input #canary-version type="number" min="1" required;
                        } @else {
                            select #canary-version required {
                                @for version in candidates { option value=(version) { (version) } }
                            }
                        }
                        p.field-error data-error-for="candidate_version" {}
                    }
                    div {
                        label for="canary-percent" { (t("canary.percent")) }
                        input #canary-percent type="number" min="1" max="100" value="10" required;
                        p.field-error data-error-for="percent" {}
                    }
                    div { button.primary type="submit" { (t("canary.start")) } }
                }
            }
            p.status #canary-status role="status" {}
            p.form-error #canary-error role="alert" {}
        }
    }
}
