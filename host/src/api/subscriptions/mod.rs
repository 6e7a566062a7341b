//! Subscriptions: which of a tenant's events go through which plugin to which endpoint; create, read,
//! change (including enabling, disabling and rotating the signing secret), delete, and replay.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

mod checks;

use self::checks::*;
use super::plugin_config::check_plugin_accepts;
use super::{
    ApiError, ApiResult, AppState, Caller, now_millis, ordering, parse_json_body, parse_rfc3339, rfc3339,
};
use crate::plugins::PluginRef;
use crate::store::Subscription;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/subscriptions", post(create).get(list))
        .route("/v1/tenants/{tenant}/subscriptions/{id}", get(read).patch(update).delete(remove))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/replay", post(replay))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Event types to receive: exact (`call.ended`), a prefix (`chat.*`) or all (`*`).
    pub event_types: Vec<String>,
    /// `name@version` to pin a version, or `name` to follow the latest.
    pub plugin: String,
    pub endpoint_url: String,
    /// The plugin's configuration (a JSON object).
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Headers added to the requests for this endpoint (its scheme, host and port) — never to a URL the
    /// plugin chose elsewhere. Not for secrets: those go in connections.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The tenant's connections whose credentials the requests may carry, by name; each goes only to the
    /// hosts it belongs to.
    #[serde(default)]
    pub connections: Vec<String>,
    /// The hosts the plugin may send requests to (`api.hubapi.com`, `*.example.com`); a request to any
    /// other is a plugin error naming the host. Absent: any host the destination guard allows.
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// At most this many requests in flight to the endpoint at once, across all instances (1–10000);
    /// absent: the service's `delivery.max_in_flight_per_endpoint`.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// At most this many requests per second to the endpoint, across all instances (1–100000), with bursts
    /// of up to one second's worth after a quiet spell; absent: no limit.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Deliver in order per key: a path into the events (`call.id`, `chat.id`, `contact.id`, or
    /// `event.tenant` for one lane per tenant). Deliveries of events with the same value go one at a time,
    /// in the order the events were accepted; a failing one holds only its key. Absent: unordered.
    #[serde(default)]
    pub ordering_key: Option<String>,
    /// How long one failing delivery may hold its key before it is dead-lettered and the key moves on
    /// (60–604800 s); absent: the service's `delivery.ordering_max_hold_secs`.
    #[serde(default)]
    pub ordering_max_hold_secs: Option<u32>,
    /// What the customer calls it (up to 100 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// Only events passing this filter go through it, checked before its plugin runs:
    /// `{"all": [{"field": "call.status", "op": "equals", "value": "missed"}]}` (or `any`). Operators:
    /// `equals`, `not_equals`, `in`, `not_in`, `exists`, `not_exists`, `contains`, `greater_than`,
    /// `less_than`. Fields are paths into the event's data, or `event.type`, `event.id`, `event.timestamp`.
    #[serde(default)]
    #[schema(value_type = Option<crate::conditions::Filter>)]
    pub filter: Option<serde_json::Value>,
    /// Who to tell when it starts failing and when it recovers: an e-mail address and/or a webhook URL.
    #[serde(default)]
    pub notify: Option<crate::notifications::Notify>,
    /// The platform sends event types outside the catalog: accept them (and filters on their fields
    /// unchecked). Otherwise an unknown type is refused.
    #[serde(default)]
    pub custom_event_types: bool,
    /// Send a W3C `traceparent` header with each delivery attempt: its span in the event's trace (see
    /// "OpenTelemetry" in the README). Off by default.
    #[serde(default)]
    pub trace_context: bool,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    pub event_types: Option<Vec<String>>,
    pub plugin: Option<String>,
    pub endpoint_url: Option<String>,
    pub config: Option<serde_json::Value>,
    pub headers: Option<BTreeMap<String, String>>,
    pub connections: Option<Vec<String>>,
    /// A list sets the hosts the plugin may send to; `null` allows any again.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub allowed_hosts: Option<Option<Vec<String>>>,
    /// Enabling a subscription also clears an automatic disable.
    pub enabled: Option<bool>,
    /// `false` resumes plugin runs paused after too many deadline hits in a row (the events that arrived
    /// meanwhile then run); `true` pauses them by hand.
    pub paused: Option<bool>,
    /// Make a new signing secret; the old one stays valid (both signatures are sent) for
    /// `delivery.secret_rotation_grace_secs`.
    #[serde(default)]
    pub rotate_secret: bool,
    /// A number sets the endpoint's concurrency bound; `null` returns it to the service's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, nullable)]
    pub max_in_flight: Option<Option<u32>>,
    /// A number sets the endpoint's rate limit (requests per second); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, nullable)]
    pub rate_limit: Option<Option<u32>>,
    /// A path sets the ordering key (new events' deliveries are ordered by it); `null` makes new
    /// deliveries unordered. Deliveries made before keep the lanes they were made in.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub ordering_key: Option<Option<String>>,
    /// A number sets the hold bound; `null` returns it to the service's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, nullable)]
    pub ordering_max_hold_secs: Option<Option<u32>>,
    /// A name sets it; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub name: Option<Option<String>>,
    /// A filter replaces it (checked against the event types after this change); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::conditions::Filter>, nullable)]
    pub filter: Option<Option<serde_json::Value>>,
    /// Who to tell when it fails and recovers; `null`: no one.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::notifications::Notify>, nullable)]
    pub notify: Option<Option<crate::notifications::Notify>>,
    /// As on create: accept event types outside the catalog for this change.
    #[serde(default)]
    pub custom_event_types: bool,
    /// Whether its deliveries carry a `traceparent` header.
    pub trace_context: Option<bool>,
}

/// A field that is present, even as `null` (`Some(None)`), as opposed to absent (`None`).
pub(super) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub tenant: String,
    pub event_types: Vec<String>,
    pub plugin: String,
    pub endpoint_url: String,
    pub config: serde_json::Value,
    pub headers: BTreeMap<String, String>,
    pub connections: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
    /// The canary of its running rollout: this share of its events run the candidate version (see
    /// `GET …/subscriptions/{id}/rollouts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::store::Canary>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Whether its plugin runs are paused: its events wait (as plugin errors) and run once it is resumed
    /// with `PATCH {"paused": false}`.
    pub paused: bool,
    /// Why they were paused (for example a plugin that kept hitting its deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<String>,
    /// The endpoint's own concurrency bound, if it has one (else the service's default applies).
    pub max_in_flight: Option<u32>,
    /// Requests per second, if limited.
    pub rate_limit: Option<u32>,
    /// How its deliveries are ordered, and its lanes' state; absent: unordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordering: Option<ordering::OrderingView>,
    /// Its destinations that are budgeted, paced or paused, and why (its endpoint's host, its connections'
    /// hosts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<super::destinations::DestinationView>,
    /// The signing secret: in answers to create and to a rotation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only events passing it go through (see `filter` on create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<crate::conditions::Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::notifications::Notify>,
    /// Its deliveries carry a W3C `traceparent` header.
    pub trace_context: bool,
    /// How it is doing: healthy, failing or idle, the last error, the last day's failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::HealthView>,
}

/// The subscription as shown, with its lanes' state when it is ordered.
async fn shown(
    state: &AppState,
    subscription: Subscription,
    with_secret: bool,
) -> ApiResult<SubscriptionView> {
    let ordering = ordering::view(state, &subscription).await?;
    let mut hosts: Vec<String> =
        crate::connections::hosts::host_of(&subscription.endpoint_url).into_iter().collect();
    for name in &subscription.connections {
        if let Some(connection) = state.store.get_connection(&subscription.tenant_id, name).await? {
            hosts.extend(connection.hosts);
        }
    }
    let destinations = super::destinations::of_hosts(state, &subscription.tenant_id, Some(&hosts)).await?;
    let health = Some(super::health::of(state, &subscription).await?);
    Ok(SubscriptionView { ordering, destinations, health, ..view(subscription, with_secret) })
}

fn view(subscription: Subscription, with_secret: bool) -> SubscriptionView {
    let plugin = PluginRef { name: subscription.plugin_name.clone(), version: subscription.plugin_version }
        .to_string();
    SubscriptionView {
        config: serde_json::from_str(&subscription.config_json).unwrap_or_default(),
        headers: subscription.headers.into_iter().collect(),
        id: subscription.id,
        tenant: subscription.tenant_id,
        event_types: subscription.event_types,
        plugin,
        endpoint_url: subscription.endpoint_url,
        connections: subscription.connections,
        allowed_hosts: subscription.allowed_hosts,
        canary: subscription.canary,
        enabled: subscription.enabled,
        disabled_reason: subscription.disabled_reason,
        paused: subscription.paused_reason.is_some(),
        paused_reason: subscription.paused_reason,
        paused_at: subscription.paused_at.map(rfc3339),
        max_in_flight: subscription.max_in_flight,
        rate_limit: subscription.rate_limit,
        ordering: None,
        destinations: Vec::new(),
        secret: with_secret.then_some(subscription.secret),
        created_at: rfc3339(subscription.created_at),
        updated_at: rfc3339(subscription.updated_at),
        name: subscription.name,
        filter: subscription.filter,
        notify: subscription.notify,
        trace_context: subscription.trace_context,
        health: None,
    }
}

/// Create a subscription (operator, or the tenant's own key).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions", tag = "subscriptions", request_body = NewSubscription,
    responses((status = 201, body = SubscriptionView), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<axum::response::Response> {
    caller.require_tenant(&tenant)?;
    super::idempotency::once(&state, &tenant, &headers, "subscriptions", &body, || {
        create_subscription(&state, tenant.clone(), &body)
    })
    .await
}

async fn create_subscription(
    state: &AppState,
    tenant: String,
    body: &[u8],
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    let state = state.clone();
    let request: NewSubscription = parse_json_body(body)?;
    check_event_types(&request.event_types)?;
    super::event_types::check_known(&request.event_types, request.custom_event_types)?;
    let filter =
        super::event_types::check_filter(request.filter, &request.event_types, request.custom_event_types)?;
    let name = check_name(request.name)?;
    let notify = check_notify(request.notify)?;
    check_endpoint(&request.endpoint_url)?;
    let config_json = check_config(request.config)?;
    let headers = check_headers(&request.headers)?;
    let max_in_flight = check_limit("max_in_flight", request.max_in_flight, MAX_IN_FLIGHT)?;
    let rate_limit = check_limit("rate_limit", request.rate_limit, RATE_LIMIT)?;
    let plugin = check_plugin(&state, &tenant, &request.plugin).await?;
    let connections = check_connections(&state, &tenant, &request.connections).await?;
    let allowed_hosts = check_allowed_hosts(request.allowed_hosts)?;
    let ordering_key = ordering::check_key(request.ordering_key)?;
    let ordering_max_hold_secs = ordering::check_max_hold(request.ordering_max_hold_secs)?;
    ordering::check_subscription_quota(&state, &tenant).await?;
    check_plugin_accepts(&state, &tenant, &plugin, &config_json, &request.event_types).await?;
    let now = now_millis();
    let subscription = Subscription {
        id: crate::ids::new_id("sub"),
        tenant_id: tenant,
        event_types: request.event_types,
        plugin_name: plugin.name,
        plugin_version: plugin.version,
        endpoint_url: request.endpoint_url,
        config_json,
        headers,
        secret: crate::delivery::signing::generate_secret(),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: request.enabled,
        disabled_reason: None,
        failing_since: None,
        max_in_flight,
        rate_limit,
        paused_reason: None,
        paused_at: None,
        created_at: now,
        updated_at: now,
        connections,
        allowed_hosts,
        canary: None,
        ordering_key,
        ordering_max_hold_secs,
        name,
        filter,
        notify,
        trace_context: request.trace_context,
    };
    state.store.create_subscription(&subscription).await?;
    Ok((StatusCode::CREATED, Json(shown(&state, subscription, true).await?)))
}

/// A tenant's subscriptions.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/subscriptions", tag = "subscriptions",
    responses((status = 200, body = Vec<SubscriptionView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Vec<SubscriptionView>>> {
    caller.require_tenant(&tenant)?;
    let mut shown_all = Vec::new();
    for subscription in state.store.list_subscriptions(&tenant).await? {
        shown_all.push(shown(&state, subscription, false).await?);
    }
    Ok(Json(shown_all))
}

async fn find(state: &AppState, tenant: &str, id: &str) -> ApiResult<Subscription> {
    state
        .store
        .get_subscription(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("subscription {id}")))
}

/// One subscription.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/subscriptions/{id}", tag = "subscriptions",
    responses((status = 200, body = SubscriptionView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<SubscriptionView>> {
    caller.require_tenant(&tenant)?;
    Ok(Json(shown(&state, find(&state, &tenant, &id).await?, false).await?))
}

/// Change a subscription: any of its fields, enable/disable, rotate its secret.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/subscriptions/{id}", tag = "subscriptions", request_body = SubscriptionPatch,
    responses((status = 200, body = SubscriptionView), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<SubscriptionView>> {
    caller.require_tenant(&tenant)?;
    let patch: SubscriptionPatch = parse_json_body(&body)?;
    let mut subscription = find(&state, &tenant, &id).await?;
    let now = now_millis();
    // The plugin checks its configuration whenever it, the plugin or the event types (its samples) change,
    // before anything is stored.
    let plugin_or_config_changed =
        patch.plugin.is_some() || patch.config.is_some() || patch.event_types.is_some();
    if let Some(event_types) = patch.event_types {
        check_event_types(&event_types)?;
        super::event_types::check_known(&event_types, patch.custom_event_types)?;
        subscription.event_types = event_types;
    }
    match patch.filter {
        Some(filter) => {
            subscription.filter =
                super::event_types::check_filter(filter, &subscription.event_types, patch.custom_event_types)?
        }
        // The event types changed: the filter must still fit them.
        None if subscription.filter.is_some() => {
            let filter = serde_json::to_value(&subscription.filter).map_err(ApiError::internal)?;
            subscription.filter = super::event_types::check_filter(
                Some(filter),
                &subscription.event_types,
                patch.custom_event_types,
            )?;
        }
        None => {}
    }
    if let Some(name) = patch.name {
        subscription.name = check_name(name)?;
    }
    if let Some(trace_context) = patch.trace_context {
        subscription.trace_context = trace_context;
    }
    if let Some(notify) = patch.notify {
        subscription.notify = check_notify(notify)?;
    }
    if let Some(plugin) = patch.plugin {
        if let Some(canary) = &subscription.canary {
            return Err(ApiError::field(
                StatusCode::CONFLICT,
                "plugin",
                format!(
                    "rollout {} of version {} is running on this subscription; promote it or roll it back \
                     (POST …/rollouts/{}/promote or …/rollback) before changing its plugin",
                    canary.rollout_id, canary.version, canary.rollout_id
                ),
            ));
        }
        let plugin = check_plugin(&state, &tenant, &plugin).await?;
        subscription.plugin_name = plugin.name;
        subscription.plugin_version = plugin.version;
    }
    if let Some(url) = patch.endpoint_url {
        check_endpoint(&url)?;
        subscription.endpoint_url = url;
    }
    if patch.config.is_some() {
        subscription.config_json = check_config(patch.config)?;
    }
    if let Some(headers) = patch.headers {
        subscription.headers = check_headers(&headers)?;
    }
    if let Some(connections) = patch.connections {
        subscription.connections = check_connections(&state, &tenant, &connections).await?;
    }
    if let Some(allowed_hosts) = patch.allowed_hosts {
        subscription.allowed_hosts = check_allowed_hosts(allowed_hosts)?;
    }
    if plugin_or_config_changed {
        let plugin =
            PluginRef { name: subscription.plugin_name.clone(), version: subscription.plugin_version };
        check_plugin_accepts(&state, &tenant, &plugin, &subscription.config_json, &subscription.event_types)
            .await?;
    }
    if let Some(max_in_flight) = patch.max_in_flight {
        subscription.max_in_flight = check_limit("max_in_flight", max_in_flight, MAX_IN_FLIGHT)?;
    }
    if let Some(rate_limit) = patch.rate_limit {
        subscription.rate_limit = check_limit("rate_limit", rate_limit, RATE_LIMIT)?;
    }
    if let Some(key) = patch.ordering_key {
        subscription.ordering_key = ordering::check_key(key)?;
    }
    if let Some(secs) = patch.ordering_max_hold_secs {
        subscription.ordering_max_hold_secs = ordering::check_max_hold(secs)?;
    }
    if let Some(enabled) = patch.enabled {
        subscription.enabled = enabled;
        if enabled {
            subscription.disabled_reason = None;
            subscription.failing_since = None;
        }
    }
    match patch.paused {
        Some(false) => (subscription.paused_reason, subscription.paused_at) = (None, None),
        Some(true) if subscription.paused_reason.is_none() => {
            subscription.paused_reason = Some("paused by hand (PATCH {\"paused\": true})".to_owned());
            subscription.paused_at = Some(now);
        }
        _ => {}
    }
    if patch.rotate_secret {
        let grace_ms = (state.config.delivery.secret_rotation_grace_secs * 1000) as i64;
        let old = std::mem::replace(&mut subscription.secret, crate::delivery::signing::generate_secret());
        subscription.previous_secret = Some(old);
        subscription.previous_secret_expires_at = Some(now + grace_ms);
    }
    subscription.updated_at = now;
    if !state.store.update_subscription(&subscription).await? {
        return Err(ApiError::not_found(format!("subscription {id}")));
    }
    Ok(Json(shown(&state, subscription, patch.rotate_secret).await?))
}

/// Delete a subscription; its delivery history stays.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/subscriptions/{id}", tag = "subscriptions",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_tenant(&tenant)?;
    if state.store.delete_subscription(&tenant, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("subscription {id}")))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// RFC 3339; deliveries created at or after this time.
    pub from: String,
    /// RFC 3339; deliveries created before this time.
    pub to: String,
    /// Re-run the failed and dead deliveries too (the current plugin, config and endpoint on their events)
    /// instead of sending their old requests again. Plugin errors are always re-run.
    #[serde(default)]
    pub rerun: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayAnswer {
    /// How many failed or dead deliveries were made due again (with their requests).
    pub replayed: u64,
    /// How many were re-run: plugin errors, and with `rerun` the failed and dead ones.
    pub rerun: u64,
}

/// Replay the failed and dead deliveries of a subscription created in a time range, and re-run its plugin
/// errors there (the current plugin and config on their events: what delivers them after a fix). A dead
/// delivery of an ordered subscription is sent on its own: its key went on without it, so it holds the key no more.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions/{id}/replay", tag = "subscriptions", request_body = ReplayRequest,
    responses((status = 202, body = ReplayAnswer), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 429, description = "Over quotas.max_replays_per_hour", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ReplayAnswer>)> {
    caller.require_tenant(&tenant)?;
    let request: ReplayRequest = parse_json_body(&body)?;
    let (from, to) = (parse_rfc3339("from", &request.from)?, parse_rfc3339("to", &request.to)?);
    if from >= to {
        return Err(invalid("to", "`to` must be after `from`".into()));
    }
    find(&state, &tenant, &id).await?;
    ordering::start_replay(&state, &tenant).await?;
    let now = now_millis();
    let rerun = state.store.rerun_deliveries(&tenant, &id, from, to, request.rerun, now).await?;
    let replayed =
        if request.rerun { 0 } else { state.store.replay_deliveries(&tenant, &id, from, to, now).await? };
    state.wake.deliveries.notify_one();
    state.wake.events.notify_one();
    Ok((StatusCode::ACCEPTED, Json(ReplayAnswer { replayed, rerun })))
}
