//! A subscription's delivery lanes in the portal: choosing its ordering key (with the key each kind of
//! event suggests), seeing the keys held by a failing delivery, with a way to those deliveries, and when a
//! destination is paced by its budget or paused because it asked to slow down.

use maud::{Markup, html};

use super::Ctx;
use super::portal::path;
use crate::api::destinations::DestinationView;
use crate::api::subscriptions::SubscriptionView;

/// The keys offered, and when each fits: the value is a path into the event.
const SUGGESTED_KEYS: [(&str, &str); 4] = [
    ("call.id", "lanes.key.call"),
    ("chat.id", "lanes.key.chat"),
    ("contact.id", "lanes.key.contact"),
    ("event.tenant", "lanes.key.tenant"),
];

/// The ordering key's field in the subscription editor: none, a suggested key, or a path of one's own.
pub(super) fn ordering_field(ctx: &Ctx, existing: Option<&SubscriptionView>) -> Markup {
    let t = |key| ctx.lang.t(key);
    let current = existing.and_then(|s| s.ordering.as_ref()).map(|o| o.key.as_str()).unwrap_or("");
    let own = !current.is_empty() && !SUGGESTED_KEYS.iter().any(|(key, _)| *key == current);
    html! {
        fieldset #ordering {
            legend { (t("lanes.title")) }
            label for="ordering_key" { (t("lanes.key")) }
            select #ordering_key {
                option value="" selected[current.is_empty()] { (t("lanes.unordered")) }
                @for (key, label) in SUGGESTED_KEYS {
                    option value=(key) selected[current == key] { (key) " — " (t(label)) }
                }
                option value="other" selected[own] { (t("lanes.own")) }
            }
            input #ordering_key_other type="text" spellcheck="false" placeholder="contact.phone"
                value=(if own { current } else { "" }) hidden[!own];
            p.hint #ordering-hint {}
            p.hint { (t("lanes.cost")) }
            p.field-error data-error-for="ordering_key" {}
        }
    }
}

/// On a saved ordered subscription's page: its keys held by a failing head, and the oldest of those.
pub(super) fn lanes_section(ctx: &Ctx, tenant: &str, subscription: &SubscriptionView) -> Markup {
    let t = |key| ctx.lang.t(key);
    let Some(ordering) = &subscription.ordering else { return html! {} };
    let lanes = &ordering.lanes;
    html! {
        section.card #lanes {
            h2 { (t("lanes.title")) }
            p { (t("lanes.key")) ": " code { (ordering.key) } " · " (t("lanes.max_hold")) ": "
                (ordering.max_hold_secs) " s" }
            @if lanes.blocked_keys == 0 {
                p #lanes-state { span.badge.ok { (t("lanes.flowing")) } }
            } @else {
                p #lanes-state {
                    span.badge.warn { (lanes.blocked_keys) " " (t("lanes.blocked")) }
                    " · " (lanes.waiting_behind) " " (t("lanes.waiting"))
                }
                @if let Some(head) = &lanes.oldest_blocked_head {
                    p { (t("lanes.oldest")) ": " code { (head.key) } " — "
                        a href=(path(tenant, &format!("deliveries/{}", head.delivery_id))) { (head.delivery_id) }
                        " (" (crate::clock::rfc3339(head.since)) ")" }
                }
                p { a href={ (path(tenant, "deliveries")) "?holding_key=true&subscription_id=" (subscription.id) } {
                    (t("lanes.see_holding")) } }
            }
            p.hint { (t("lanes.retry_note")) }
        }
    }
}

/// Next to a subscription's status in the list: how many keys a failing delivery holds, if any.
pub(super) fn blocked_badge(ctx: &Ctx, subscription: &SubscriptionView) -> Markup {
    match subscription.ordering.as_ref().map(|o| o.lanes.blocked_keys) {
        Some(blocked) if blocked > 0 => {
            html! { " " span.badge.warn.blocked-keys { (blocked) " " (ctx.lang.t("lanes.blocked")) } }
        }
        _ => html! {},
    }
}

/// A destination that is paced or paused, with why (in the title), next to a subscription or connection.
pub(super) fn destination_badge(ctx: &Ctx, destination: &DestinationView) -> Markup {
    let t = |key| ctx.lang.t(key);
    match destination.state {
        "paused" => html! {
            " " span.badge.warn.destination title=(destination.pause_reason.as_deref().unwrap_or("")) {
                (destination.host) ": " (t("dest.paused")) " " (destination.paused_until.as_deref().unwrap_or(""))
            }
        },
        "paced" => html! {
            " " span.badge.destination { (destination.host) ": " (t("dest.paced")) }
        },
        _ => html! {},
    }
}
