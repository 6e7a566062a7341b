//! The rows of the work that flows through the service: events as accepted and as claimed, deliveries as
//! made, claimed, attempted and shown, and the queue sizes.

use serde::{Deserialize, Serialize};

use super::Millis;

/// An event to store, as accepted by the API.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: String,
    pub id: String,
    pub event_type: String,
    pub timestamp: String,
    pub data_json: String,
    pub received_at: Millis,
    /// A test send by the tenant: `test`, or `test:<subscription id>` through that one only; `None`: the
    /// platform's.
    pub origin: Option<String>,
    /// Leased until then to this instance's pipeline, which is handed the event in memory once it is
    /// committed (see `pipeline::handoff`); 0: not leased, for any instance's claim.
    pub lease_until: Millis,
}

impl NewEvent {
    /// The event as its claim would have returned it, once stored as the `seq`-th.
    pub fn into_claimed(self, seq: i64) -> ClaimedEvent {
        ClaimedEvent {
            tenant_id: self.tenant_id,
            id: self.id,
            event_type: self.event_type,
            timestamp: self.timestamp,
            data_json: self.data_json,
            received_at: self.received_at,
            seq,
            origin: self.origin,
        }
    }
}

/// What happened to one [`NewEvent`] in [`Store::insert_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored now, as the `seq`-th (its acceptance order, [`ClaimedEvent::seq`]).
    New { seq: i64 },
    /// The same `(tenant, id)` was stored before; nothing changed.
    Duplicate,
    /// The tenant does not exist; nothing stored.
    UnknownTenant,
}

/// A stored event that a pipeline worker has claimed for processing.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    pub tenant_id: String,
    pub id: String,
    pub event_type: String,
    pub timestamp: String,
    pub data_json: String,
    pub received_at: Millis,
    /// The order it was accepted in: greater than every event of its tenant stored before its insert
    /// began (see [`crate::delivery::lanes`]).
    pub seq: i64,
    /// As [`NewEvent::origin`].
    pub origin: Option<String>,
}

impl ClaimedEvent {
    /// A test send by the tenant.
    pub fn is_test(&self) -> bool {
        self.origin.is_some()
    }

    /// The one subscription a test send goes through, if it names one.
    pub fn only_subscription(&self) -> Option<&str> {
        self.origin.as_deref().and_then(|origin| origin.strip_prefix("test:"))
    }
}

/// The state of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    /// Delivered (the endpoint answered 2xx).
    Succeeded,
    /// The last attempt failed; another is scheduled at `next_attempt_at`.
    Failed,
    /// Gave up after the last scheduled attempt (or the subscription was disabled); can be retried by hand.
    Dead,
    /// The plugin returned no request for this event: nothing to send.
    Skipped,
    /// Replaced by a re-run (the subscription's current plugin, config and endpoint on the same event): the
    /// deliveries with `rerun_of` naming it carry on; it is never sent again.
    Superseded,
    /// The plugin failed; `next_attempt_at` is set when the error is transient and it will run again.
    PluginError,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Skipped => "skipped",
            DeliveryStatus::PluginError => "plugin_error",
            DeliveryStatus::Superseded => "superseded",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        Some(match text {
            "pending" => DeliveryStatus::Pending,
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            "dead" => DeliveryStatus::Dead,
            "skipped" => DeliveryStatus::Skipped,
            "plugin_error" => DeliveryStatus::PluginError,
            "superseded" => DeliveryStatus::Superseded,
            _ => return None,
        })
    }
}

/// An HTTP request a plugin produced, as stored and as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A delivery to create when an event has been through a subscription's plugin.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Unique id (`dlv_…`), made by the pipeline.
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    /// The plugin version that ran (`slack@2`).
    pub plugin: String,
    /// `Pending` with a request; `Skipped` without; `PluginError` without, with `error`.
    pub status: DeliveryStatus,
    pub request: Option<StoredRequest>,
    /// The plugin's error, for `PluginError`.
    pub error: Option<String>,
    /// The kind of the plugin's error (`trap`, `timeout`, `plugin_error_permanent`, …), for `PluginError`.
    pub error_kind: Option<String>,
    /// What the plugin logged on this run (JSON, as [`crate::runtime::LogLine`]s); `None` when nothing.
    pub logs_json: Option<String>,
    /// When to attempt it (or, for a transient plugin error, when to run the plugin again); `None`: never.
    pub next_attempt_at: Option<Millis>,
    pub created_at: Millis,
    /// Its place in an ordered lane, when its subscription names an ordering key and the event has a value
    /// for it.
    pub lane: Option<LanePlace>,
    /// The account its request goes to (`{tenant} {host}`), whose budget it draws on; `None` without a
    /// request.
    pub destination: Option<String>,
    /// Made for a test send by the tenant.
    pub test: bool,
    /// The delivery it re-ran, if it is a re-run.
    pub rerun_of: Option<String>,
}

/// A delivery's place in its subscription's ordered lane for one key value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanePlace {
    /// The key's value for the event (`cl_9f3a`).
    pub key: String,
    /// The event's acceptance order ([`ClaimedEvent::seq`]).
    pub seq: i64,
    /// The request's index among those the plugin returned for the event.
    pub index: u32,
}

/// The result of processing one claimed event: its deliveries, stored together with marking it processed.
#[derive(Debug, Clone)]
pub struct ProcessedEvent {
    pub tenant_id: String,
    pub event_id: String,
    pub deliveries: Vec<NewDelivery>,
}

/// What a delivery worker asks of [`Store::claim_deliveries`].
#[derive(Debug, Clone, Copy)]
pub struct DeliveryClaim<'a> {
    /// At most this many deliveries.
    pub limit: u32,
    /// Leased until `now + lease_ms`.
    pub lease_ms: i64,
    pub now: Millis,
    /// An endpoint's concurrency bound when its subscription sets none.
    pub default_max_in_flight: u32,
    /// Deliveries the claimer has finished sending whose attempts are not recorded yet, their leases still
    /// running: leased, but no longer in flight, so they do not count against their endpoints' bounds.
    pub sent: &'a [String],
    /// At most this many deliveries of one tenant in flight at once, across every claimer (counting as
    /// for the endpoints): the tenant's share of the sending capacity.
    pub max_in_flight_per_tenant: u32,
    /// The plugins (`name@version`) known to merge requests: deliveries they made that wait on one
    /// destination's budget are leased together, to go out as fewer requests.
    pub merging_plugins: &'a [String],
    /// The budget of a destination that has none set (the service's defaults for well-known hosts).
    pub default_budget: fn(&str) -> Option<Budget>,
}

/// At most `requests` sends per `window_ms` to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Budget {
    pub requests: u32,
    pub window_ms: i64,
}

/// A due delivery claimed by a delivery worker, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub request: StoredRequest,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The subscription's current signing secrets (the previous one only while within its grace period).
    pub secrets: Vec<String>,
    /// Headers the subscription adds to requests for its own endpoint.
    pub subscription_headers: Vec<(String, String)>,
    /// The subscription's endpoint URL: its headers go only to this scheme, host and port.
    pub endpoint_url: String,
    /// The subscription's connections, by name.
    pub connections: Vec<String>,
    /// Its lane's key value, when it is ordered: it is its key's head, and holds the key until it ends.
    pub ordering_key: Option<String>,
    /// When its first attempt was made, if one was.
    pub first_attempt_at: Option<Millis>,
    /// Its subscription's hold bound (`None`: the service's default).
    pub ordering_max_hold_secs: Option<u32>,
    /// The plugin version that made it (`slack@2`).
    pub plugin: String,
    /// Its destination, if it has one (see [`NewDelivery::destination`]).
    pub destination: Option<String>,
    /// Leased to go out in one request with others, merged by its plugin: the id of the first of them (its
    /// own id for the first).
    pub batch_leader: Option<String>,
    /// When the plugin run that made it ran: names that run's span in the event's trace.
    pub created_at: Millis,
    /// Its subscription asks for a `traceparent` header on its requests.
    pub trace_context: bool,
}

/// The outcome of one attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub subscription_id: String,
    pub at: Millis,
    /// The HTTP status, if the endpoint answered.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The first bytes of the response body, or the connection error.
    pub response_excerpt: String,
    pub error: Option<String>,
    /// The delivery's new status: `Succeeded`, `Failed` (with `next_attempt_at`) or `Dead`.
    pub new_status: DeliveryStatus,
    pub next_attempt_at: Option<Millis>,
    /// Disable the subscription, with this reason (410 Gone, failing for too long).
    pub disable_subscription: Option<String>,
    /// Why the delivery ended this way, shown on it (a dead head that held its ordering key).
    pub delivery_error: Option<String>,
    /// The destination asked to slow down (429, or 503 with `Retry-After`): the attempt is recorded but is
    /// not one of the delivery's — its status, attempt count and the subscription's health stay; it is due
    /// again at `next_attempt_at`.
    pub paced: bool,
    /// The batch that carried it, when it went out merged with others.
    pub batch_id: Option<String>,
    /// Lower the most deliveries a batch carrying it may hold to this (its batch was refused as a whole).
    pub batch_limit: Option<u32>,
}

/// A destination's budget and state, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DestinationState {
    /// `{tenant} {host}`.
    pub destination: String,
    /// The budget set on a connection for it, if any.
    pub budget: Option<Budget>,
    /// When it may be sent to next, if paced.
    pub next_slot_at: Option<Millis>,
    /// Until when it is paused, and why.
    pub paused_until: Option<Millis>,
    pub pause_reason: Option<String>,
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Millis,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub response_excerpt: String,
    pub error: Option<String>,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub plugin: String,
    pub status: DeliveryStatus,
    pub request: Option<StoredRequest>,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    /// What the plugin logged on the run that made this delivery (JSON), if anything.
    pub logs_json: Option<String>,
    pub next_attempt_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Its ordered lane's key value, if it is in one.
    pub ordering_key: Option<String>,
    /// The account its request goes to.
    pub destination: Option<String>,
    /// The batch that last carried it, if it went out merged with others.
    pub batch_id: Option<String>,
    /// Made for a test send by the tenant.
    pub test: bool,
    /// The delivery it re-ran, if it is a re-run.
    pub rerun_of: Option<String>,
    /// Its event's type, while the event is kept.
    pub event_type: Option<String>,
    pub attempts: Vec<Attempt>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub event_id: Option<String>,
    pub subscription_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// Only heads of ordered lanes that hold their key while failing (`failed`, or a plugin error that
    /// will run again).
    pub holding_key: bool,
    /// At most this many, newest first.
    pub limit: u32,
}

/// Sizes of the work queues, for metrics and readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Events stored but not yet through their plugins.
    pub events_pending: u64,
    /// Deliveries `pending` or `failed` (waiting for an attempt).
    pub deliveries_pending: u64,
    /// Age of the oldest event or delivery still waiting, in ms (0 when none).
    pub oldest_pending_age_ms: u64,
}

/// The state of a subscription's ordered lanes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LaneStatus {
    /// Keys whose head is failing (waiting for its next attempt, or its plugin to run again).
    pub blocked_keys: u64,
    /// Deliveries waiting behind those heads.
    pub waiting_behind: u64,
    /// The failing head that has held its key longest.
    pub oldest_blocked_head: Option<BlockedHead>,
}

/// A failing head of an ordered lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BlockedHead {
    pub delivery_id: String,
    pub event_id: String,
    /// The key's value it holds.
    pub key: String,
    /// Since when (its first attempt, or when it was made for a plugin error).
    pub since: Millis,
}
