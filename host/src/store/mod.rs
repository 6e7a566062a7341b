//! Storage: the one interface every part of Gancho uses for durable state (tenants, keys, plugins,
//! subscriptions, events, deliveries, attempts), and its implementations. The source of truth for pending
//! work is here, never in memory: work is taken with a *claim* that holds a lease, so a crashed instance's
//! work is picked up by another once the lease runs out.
//!
//! All times are Unix milliseconds (`i64`). All methods that take `now` use it instead of reading a clock,
//! which keeps the implementations deterministic to test.

#[cfg(test)]
mod conformance;
mod handoff;
mod health;
mod idempotency;
mod lanes;
mod pacing;
mod postgres;
mod reruns;
mod rollouts;
mod sqlite;
mod stats;
mod throttle;
mod work;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use handoff::HandOffTerms;
pub use health::{FailureChange, LastFailure, SubscriptionHealth};
pub use idempotency::Idempotent;
pub use postgres::PostgresStore;
pub use reruns::{Rerun, rerun_placeholder_error};
pub use rollouts::{
    Canary, DryRunRecord, HandBack, Requeued, RolloutEnd, RolloutFailure, RolloutRecord, RolloutState,
    VersionCount,
};
pub use sqlite::SqliteStore;
pub use stats::{
    DeliveryStats, LATENCY_CLASSES_MS, LatencyCount, OutcomeCount, PluginErrorCount, SentCount, StatsScope,
    StatsWindow,
};
pub use work::*;

/// Unix milliseconds.
pub type Millis = i64;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists (tenant id, subscription id, …).
    #[error("{0} already exists")]
    Conflict(String),
    /// The referenced row does not exist (for example a subscription's tenant).
    #[error("{0} not found")]
    NotFound(String),
    /// The database failed; the message says how.
    #[error("database error: {0}")]
    Database(String),
    /// Adding this would take a tenant past one of its quotas (`quota` names it); nothing was stored.
    #[error("quota {quota} is {limit} and {used} is used")]
    QuotaExceeded { quota: &'static str, limit: u64, used: u64 },
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created_at: Millis,
    /// The quotas and limits the operator set for this tenant (JSON, read by [`crate::tenancy`]); `None`:
    /// the service's defaults.
    pub policy_json: Option<String>,
    /// The platforms whose events it has (`phone`, `chat`; see [`crate::catalog`]); empty: all.
    pub platforms: Vec<String>,
}

/// A tenant API key as it is listed: never the key, nor its whole hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// What names it in the API: the first 16 hex digits of its SHA-256.
    pub id: String,
    /// The key's first characters (`gk_Ab12Cd`), to recognise it by; `None` for keys made before they were
    /// kept.
    pub prefix: Option<String>,
    pub created_at: Millis,
    /// When it was last used (to the minute); `None`: never.
    pub last_used_at: Option<Millis>,
}

/// Which plugins to list. A tenant's own plugins are named `<tenant>/<name>`; shared ones have no `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginScope<'a> {
    /// The operator's catalog, which every tenant may use.
    Shared,
    /// One tenant's own plugins.
    Tenant(&'a str),
    /// Every plugin.
    All,
}

/// A plugin version to store.
#[derive(Debug, Clone, Copy)]
pub struct NewPluginVersion<'a> {
    /// The plugin's full name (`slack`, or `acme/crm` for tenant `acme`'s own).
    pub name: &'a str,
    /// `sha256:<hex>` of `wasm`.
    pub digest: &'a str,
    pub wasm: &'a [u8],
    pub created_at: Millis,
    /// The owner's quotas, checked in the same transaction as the insert; `None`: no quota (shared plugins).
    pub quota: Option<PluginQuota<'a>>,
}

/// What a tenant may store of its own plugins.
#[derive(Debug, Clone, Copy)]
pub struct PluginQuota<'a> {
    pub tenant_id: &'a str,
    /// Versions of one plugin kept at once (`quotas.max_versions_per_plugin`).
    pub max_versions_per_plugin: u64,
    /// Bytes of all the tenant's plugin versions together (`quotas.max_plugin_bytes_total`).
    pub max_total_bytes: u64,
}

/// What a tenant's own plugins use of its quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginUsage {
    pub versions: u64,
    pub bytes: u64,
}

/// The names of `tenant_id`'s own plugins start with this.
pub fn tenant_plugin_prefix(tenant_id: &str) -> String {
    format!("{tenant_id}/")
}

/// An immutable, numbered version of a plugin. The binary itself is stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginVersion {
    pub name: String,
    /// 1, 2, 3… per name, assigned by the store.
    pub version: u32,
    /// `sha256:<hex>` of the binary.
    pub digest: String,
    pub size_bytes: u64,
    pub created_at: Millis,
}

/// A subscription: which events of a tenant go through which plugin to which endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub tenant_id: String,
    /// Patterns: exact types (`call.ended`), prefixes (`chat.*`) or everything (`*`).
    pub event_types: Vec<String>,
    pub plugin_name: String,
    /// A pinned version, or `None` to follow the latest.
    pub plugin_version: Option<u32>,
    pub endpoint_url: String,
    /// The plugin's configuration, as JSON text.
    pub config_json: String,
    /// Headers added to every request (for example the destination's `authorization`).
    pub headers: Vec<(String, String)>,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// The secret before the last rotation, still signed with until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<Millis>,
    pub enabled: bool,
    /// Why it was disabled automatically (`endpoint answered 410 Gone`, …), if it was.
    pub disabled_reason: Option<String>,
    /// When the endpoint started failing without a success since; `None` while healthy.
    pub failing_since: Option<Millis>,
    /// At most this many deliveries in flight to the endpoint at once, across all instances; `None`: the
    /// service's `delivery.max_in_flight_per_endpoint`.
    pub max_in_flight: Option<u32>,
    /// At most this many sends per second to the endpoint, across all instances; `None`: no limit.
    pub rate_limit: Option<u32>,
    /// Why its plugin runs are paused (the plugin kept hitting its deadline), if they are: its events wait
    /// as plugin errors, run again once it is resumed.
    pub paused_reason: Option<String>,
    /// When its plugin runs were paused.
    pub paused_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// The tenant's connections whose credentials its requests may carry, by name; each is added only to
    /// requests for the hosts it belongs to.
    pub connections: Vec<String>,
    /// The hosts its plugin may send requests to; `None`: any the destination guard allows.
    pub allowed_hosts: Option<Vec<String>>,
    /// The canary of its running rollout, if one runs: a share of its events go to another version. Only
    /// the rollout operations write it ([`Store::update_subscription`] leaves it as it is).
    pub canary: Option<Canary>,
    /// The path into its events whose value orders their deliveries (`call.id`, `event.tenant`): those of
    /// events with the same value go one at a time, in the order the events were accepted (see
    /// [`crate::delivery::lanes`]). `None`: unordered.
    pub ordering_key: Option<String>,
    /// How long one head may hold its key (from its first attempt) before it is dead-lettered; `None`: the
    /// service's `delivery.ordering_max_hold_secs`.
    pub ordering_max_hold_secs: Option<u32>,
    /// What the customer calls it ("CRM – llamadas perdidas").
    pub name: Option<String>,
    /// Only events passing this filter go through it (checked before its plugin runs).
    pub filter: Option<crate::conditions::Filter>,
    /// Who is told when it starts failing and when it recovers.
    pub notify: Option<crate::notifications::Notify>,
    /// Its deliveries carry a W3C `traceparent` header: each attempt's span in the event's trace.
    pub trace_context: bool,
}

/// A tenant's credential for a destination, sealed: its secret part is only ever in `sealed`, encrypted
/// and authenticated with the configuration's key `key_id` (see [`crate::connections`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub tenant_id: String,
    /// Unique per tenant; what subscriptions name.
    pub name: String,
    /// `header`, `basic`, `oauth2_refresh_token` or `google_service_account`.
    pub kind: String,
    /// The hosts the credential may be sent to.
    pub hosts: Vec<String>,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub sealed: Vec<u8>,
    /// Why it no longer works (its grant was revoked), until it is changed.
    pub broken_reason: Option<String>,
    /// The last failure to obtain a token, if the last attempt failed.
    pub last_error: Option<String>,
    pub last_used_at: Option<Millis>,
    pub last_refreshed_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What sending with a connection did, to record on it.
#[derive(Debug, Clone, Default)]
pub struct ConnectionUse {
    pub at: Millis,
    /// A token was obtained from the provider.
    pub refreshed: bool,
    /// The failure to obtain a token (cleared by a success).
    pub error: Option<String>,
    /// The grant is revoked: the connection is broken, with this reason.
    pub broken: Option<String>,
    /// The secret sealed anew (a rotated refresh token): `(key_id, nonce, sealed)`.
    pub resealed: Option<(String, Vec<u8>, Vec<u8>)>,
}

/// The storage interface. Implementations: [`SqliteStore`] (embedded, the default).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Tenants and their API keys.
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn get_tenant(&self, id: &str) -> StoreResult<Option<Tenant>>;
    /// Every tenant, by id.
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Stores the SHA-256 (hex) of a tenant API key and its first characters; the key itself is never stored.
    async fn create_api_key(
        &self,
        tenant_id: &str,
        key_sha256: &str,
        prefix: &str,
        created_at: Millis,
    ) -> StoreResult<()>;
    /// The tenant an API key (by its SHA-256) belongs to.
    async fn tenant_for_api_key(&self, key_sha256: &str) -> StoreResult<Option<String>>;
    /// A tenant's keys, oldest first.
    async fn list_api_keys(&self, tenant_id: &str) -> StoreResult<Vec<ApiKeyInfo>>;
    /// Deletes the tenant's key with this [`ApiKeyInfo::id`]; false if it has none.
    async fn delete_api_key(&self, tenant_id: &str, id: &str) -> StoreResult<bool>;
    /// Notes that the key (by its SHA-256) was used at `at`.
    async fn record_api_key_use(&self, key_sha256: &str, at: Millis) -> StoreResult<()>;
    /// Ends the tenant's console sessions begun before `at`; false if there is no such tenant.
    async fn end_console_sessions(&self, tenant_id: &str, at: Millis) -> StoreResult<bool>;
    /// When the tenant's console sessions were last ended (sessions begun before are over; 0: never);
    /// `None` if there is no such tenant.
    async fn console_sessions_valid_after(&self, tenant_id: &str) -> StoreResult<Option<Millis>>;
    /// The secret named `name` kept in the database, storing `candidate` as it if there is none yet (so
    /// that every instance sharing the database agrees on one).
    async fn shared_secret(&self, name: &str, candidate: &str) -> StoreResult<String>;
    /// Records that the portal link `id` (valid until `expires_at`) was followed; false if it already was.
    /// Links expired by `now` are forgotten.
    async fn follow_portal_link(&self, id: &str, expires_at: Millis, now: Millis) -> StoreResult<bool>;
    /// Sets (or with `None` clears) a tenant's policy; false if there is no such tenant.
    async fn set_tenant_policy(&self, id: &str, policy_json: Option<&str>) -> StoreResult<bool>;
    /// Sets the platforms whose events a tenant has (empty: all); false if there is no such tenant.
    async fn set_tenant_platforms(&self, id: &str, platforms: &[String]) -> StoreResult<bool>;

    // Plugins: immutable versions, numbered from 1 per name, binaries stored with them.
    /// Stores a new version with the next number for its name. If the latest version has the same digest,
    /// returns that version instead of adding one. With a quota, fails with `QuotaExceeded` (storing
    /// nothing) when the plugin has `max_versions_per_plugin` versions already, or the tenant's plugins
    /// would take more than `max_total_bytes`.
    async fn add_plugin_version(&self, new: &NewPluginVersion<'_>) -> StoreResult<PluginVersion>;
    /// The latest version of every plugin in `scope`, by name.
    async fn list_plugins(&self, scope: PluginScope<'_>) -> StoreResult<Vec<PluginVersion>>;
    async fn list_plugin_versions(&self, name: &str) -> StoreResult<Vec<PluginVersion>>;
    /// The versions that may run: the latest of every plugin, and every version a subscription pins.
    async fn live_plugin_versions(&self) -> StoreResult<Vec<(String, u32)>>;
    /// What a tenant's own plugins use: their versions and bytes.
    async fn tenant_plugin_usage(&self, tenant_id: &str) -> StoreResult<PluginUsage>;
    /// Deletes one version, unless it is the plugin's latest (so a number is never given twice); false
    /// if there is no such version or it is the latest.
    async fn delete_plugin_version(&self, name: &str, version: u32) -> StoreResult<bool>;
    /// A version's metadata and binary; `version: None` is the latest.
    async fn get_plugin(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<Option<(PluginVersion, Vec<u8>)>>;

    // Subscriptions.
    /// Fails with `NotFound` if the tenant does not exist, `Conflict` if the id is taken.
    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<()>;
    async fn get_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Subscription>>;
    async fn list_subscriptions(&self, tenant_id: &str) -> StoreResult<Vec<Subscription>>;
    /// The subscriptions, of every tenant, that name `plugin_name` without a version: they run its latest
    /// version, so a new upload of it. Oldest first.
    async fn subscriptions_following(&self, plugin_name: &str) -> StoreResult<Vec<Subscription>>;
    /// Replaces every field of the subscription with this `(tenant_id, id)`; false if there is none.
    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<bool>;
    async fn delete_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<bool>;
    /// Pauses the subscription's plugin runs with `reason`, unless they are paused already; true if this
    /// call paused them.
    async fn pause_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        reason: &str,
        now: Millis,
    ) -> StoreResult<bool>;

    // Connections.
    /// Fails with `NotFound` if the tenant does not exist, `Conflict` if the name is taken.
    async fn create_connection(&self, connection: &Connection) -> StoreResult<()>;
    async fn get_connection(&self, tenant_id: &str, name: &str) -> StoreResult<Option<Connection>>;
    async fn list_connections(&self, tenant_id: &str) -> StoreResult<Vec<Connection>>;
    /// Every tenant's connections (for re-sealing them with a new key).
    async fn all_connections(&self) -> StoreResult<Vec<Connection>>;
    /// Replaces every field of the connection with this `(tenant_id, name)`; false if there is none.
    async fn update_connection(&self, connection: &Connection) -> StoreResult<bool>;
    async fn delete_connection(&self, tenant_id: &str, name: &str) -> StoreResult<bool>;
    /// Records a use of the connection: when, a refresh, a failure or a breakage, a re-sealed secret.
    async fn record_connection_use(
        &self,
        tenant_id: &str,
        name: &str,
        used: &ConnectionUse,
    ) -> StoreResult<()>;

    // Events.
    /// Stores a batch in one transaction (one disk sync): each event is new, a duplicate of one stored
    /// before (same tenant and id; the stored one is kept unchanged), or refused for an unknown tenant.
    /// Results are in the order of `events`. When this returns, the new events are durable.
    async fn insert_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Inserted>>;
    /// Claims up to `limit` unprocessed events whose lease has expired (oldest first), leasing them until
    /// `now + lease_ms`, except those of the tenants in `exclude_tenants` (whose share of plugin time this
    /// claimer has already queued). Another claim does not return them again before that.
    async fn claim_events(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
        exclude_tenants: &[String],
    ) -> StoreResult<Vec<ClaimedEvent>>;
    /// One stored event of a tenant (processed or not), until retention purges it.
    async fn get_event(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ClaimedEvent>>;
    /// In one transaction: stores each processed event's deliveries and marks the event processed. An
    /// event already processed (its lease expired and another worker finished it) is left alone and its
    /// deliveries are not stored again.
    async fn complete_events(&self, processed: &[ProcessedEvent]) -> StoreResult<()>;
    /// As [`Store::complete_events`], and in the same transaction hands over to the committing instance's
    /// delivery worker up to `terms.room` of the new deliveries that the claim would take at once with
    /// nothing to decide but room: they are stored leased until `now + lease_ms` and returned as claimed
    /// (see `handoff`). The others are stored for the claim.
    async fn complete_events_handing_off(
        &self,
        processed: Vec<ProcessedEvent>,
        terms: HandOffTerms,
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    // Deliveries.
    /// Claims up to `limit` deliveries that are `pending` or `failed` with `next_attempt_at <= now` and
    /// an expired lease, whose subscription is enabled, leasing them until `now + lease_ms`. Oldest due first.
    ///
    /// Keeps each subscription's endpoint limits across every claimer of the database (see `throttle`):
    /// no more in flight at once than its `max_in_flight` (`default_max_in_flight` when unset), counting
    /// the leased deliveries other than the claimer's `sent` ones, and no faster than its `rate_limit` — a
    /// delivery over the rate is not returned but deferred to its send slot.
    async fn claim_deliveries(&self, claim: DeliveryClaim<'_>) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Claims up to `limit` `plugin_error` deliveries whose `next_attempt_at <= now` (transient plugin
    /// errors to run again) and whose subscription is enabled and not paused, except those of the tenants
    /// in `exclude_tenants`, returning their events; the rows are leased like deliveries.
    async fn claim_plugin_retries(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
        exclude_tenants: &[String],
    ) -> StoreResult<Vec<(String, ClaimedEvent)>>;
    /// Replaces a `plugin_error` delivery (by id) with the deliveries of a new plugin run, in one transaction.
    async fn replace_plugin_retry(&self, delivery_id: &str, deliveries: &[NewDelivery]) -> StoreResult<()>;
    /// In one transaction: for each record, inserts the attempt, sets the delivery's status and
    /// `next_attempt_at`, releases its lease, and updates the subscription's health: a success clears
    /// `failing_since`; a failure sets it if unset; `disable_subscription` disables it with the reason.
    async fn record_attempts(&self, records: &[AttemptRecord]) -> StoreResult<()>;
    /// Pauses a destination until `until` (a 429, or a 503 with `Retry-After`), with `reason`; `backoff_ms`
    /// is kept for the next pause made without a `Retry-After`. A later pause never shortens one.
    async fn pause_destination(
        &self,
        destination: &str,
        until: Millis,
        reason: &str,
        backoff_ms: Option<i64>,
    ) -> StoreResult<()>;
    /// The last pause of a destination without a `Retry-After` (its backoff) and when it ends.
    async fn destination_backoff(&self, destination: &str) -> StoreResult<Option<(i64, Millis)>>;
    /// Sets (or with `None` clears) the budget of destinations.
    async fn set_destination_budget(
        &self,
        destinations: &[String],
        budget: Option<Budget>,
    ) -> StoreResult<()>;
    /// A tenant's destinations that are paced or paused, or have a budget set.
    async fn destination_states(&self, tenant_id: &str) -> StoreResult<Vec<DestinationState>>;
    /// Gives leased deliveries back unsent, due at `due`, their attempts untouched.
    async fn release_deliveries(&self, ids: &[String], due: Millis) -> StoreResult<()>;
    /// When the subscription started failing without a success since, if it is failing.
    async fn failing_since(&self, subscription_id: &str) -> StoreResult<Option<Millis>>;
    /// Starts a create sent with an `Idempotency-Key`: records the key with the request's `fingerprint`
    /// unless it is known (a key older than `expired_before` is forgotten first).
    async fn begin_idempotent(
        &self,
        tenant_id: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
    ) -> StoreResult<Idempotent>;
    /// Keeps the answer to a key's request; with `None` forgets the key (the request failed: it may be sent
    /// again with the same key).
    async fn finish_idempotent(
        &self,
        tenant_id: &str,
        key: &str,
        answer: Option<(u16, String)>,
    ) -> StoreResult<()>;
    /// A subscription's deliveries made since `since`, how many are failing now, and its last failure.
    async fn subscription_health(
        &self,
        subscription_id: &str,
        since: Millis,
    ) -> StoreResult<SubscriptionHealth>;
    /// Claims the changes to tell: subscriptions with a `notify` that have been failing since at least
    /// `failing_before` without it being told, and those told that have recovered. Each change is returned
    /// once (the claim marks it told), to one instance.
    async fn claim_failure_changes(
        &self,
        failing_before: Millis,
        limit: u32,
    ) -> StoreResult<Vec<FailureChange>>;
    async fn list_deliveries(&self, tenant_id: &str, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>>;
    /// The state of a subscription's ordered lanes: the keys held by a failing head, the oldest such head,
    /// and how many deliveries wait behind them.
    async fn lane_status(&self, subscription_id: &str) -> StoreResult<LaneStatus>;
    async fn get_delivery(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Delivery>>;
    /// Re-runs a delivery of any status: the subscription's current plugin, config and endpoint on its
    /// stored event. An unfinished one (`pending`, `failed`, `dead`, `plugin_error`) becomes `superseded`
    /// (never sent again, out of its lane); a finished one keeps its history. A placeholder plugin error due
    /// now, with `rerun_of`, is left for the pipeline's retry claim.
    async fn rerun_delivery(&self, tenant_id: &str, id: &str, now: Millis) -> StoreResult<Rerun>;
    /// Re-runs the deliveries of a subscription made in `[from, to)` that need it: plugin errors that will
    /// not run again, and with `include_sent` the `failed` and `dead` ones too. Returns how many.
    async fn rerun_deliveries(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        include_sent: bool,
        now: Millis,
    ) -> StoreResult<u64>;
    /// Makes a `failed`, `dead` or `succeeded` delivery (with a request) due now again, attempts kept.
    /// False if there is no such delivery of the tenant or it has no request. A `dead` or `succeeded`
    /// delivery leaves its lane: its key's later deliveries have gone on, so it is sent on its own.
    async fn retry_delivery(&self, tenant_id: &str, id: &str, now: Millis) -> StoreResult<bool>;
    /// Makes every `dead` or `failed` delivery of a subscription created in `[from, to)` due now again;
    /// returns how many. `dead` ones leave their lanes, as with [`Store::retry_delivery`].
    async fn replay_deliveries(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        now: Millis,
    ) -> StoreResult<u64>;

    /// The events whose deliveries (or skips, or plugin errors) a subscription made in `[from, to)`, newest
    /// first, with when: at most `limit` rows, an event once per delivery it made.
    async fn subscription_events(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> StoreResult<Vec<(Millis, ClaimedEvent)>>;

    // Rollouts: a subscription's canary of a candidate version, and their history.
    /// Stores a running rollout and, in the same transaction, pins the subscription to `pin_version` and
    /// sets its canary. `NotFound` without the subscription; `Conflict` if it has a running rollout.
    async fn start_rollout(
        &self,
        rollout: &RolloutRecord,
        pin_version: u32,
        canary: &Canary,
    ) -> StoreResult<()>;
    /// Ends a running rollout (false if it is not running) and clears the subscription's canary, pinning it
    /// to `end.pin_version` if given (a promotion), in one transaction.
    async fn end_rollout(&self, tenant_id: &str, id: &str, end: &RolloutEnd<'_>) -> StoreResult<bool>;
    /// Replaces a rollout's body and whether re-runs of its candidate's failures are still to be done.
    async fn update_rollout(&self, id: &str, body_json: &str, reruns_pending: bool) -> StoreResult<()>;
    async fn get_rollout(&self, tenant_id: &str, id: &str) -> StoreResult<Option<RolloutRecord>>;
    /// A subscription's rollouts, newest first.
    async fn list_rollouts(&self, tenant_id: &str, subscription_id: &str) -> StoreResult<Vec<RolloutRecord>>;
    /// Every tenant's rollouts that need watching: the running ones, and the rolled-back ones whose
    /// candidate's failures are still to be run again.
    async fn rollouts_to_watch(&self) -> StoreResult<Vec<RolloutRecord>>;
    /// How many events each plugin version made deliveries of each status for, for a subscription's
    /// deliveries made since `since`.
    async fn version_counts(&self, subscription_id: &str, since: Millis) -> StoreResult<Vec<VersionCount>>;
    /// In one transaction: keeps the failures (`plugin_error`, `failed`, `dead`) among a subscription's
    /// deliveries made by `rerun.plugin` since `rerun.since` with the rollout (up to `keep_failures` kept in
    /// all, oldest first), then turns those that did not succeed (and are not being sent right now) into
    /// plugin errors due at once, with `reason`: the plugin-retry claim runs the subscription's plugin on
    /// their events again and replaces them. Counts those turned, those left because they are leased, those
    /// turned before and not yet run again, and the runs claimed before the rollback still in flight.
    async fn requeue_for_rerun(&self, rerun: &HandBack<'_>) -> StoreResult<Requeued>;
    /// The candidate's failures kept with a rollout of the tenant, oldest first.
    async fn rollout_failures(&self, tenant_id: &str, rollout_id: &str) -> StoreResult<Vec<RolloutFailure>>;

    // Dry runs: their state and report, kept for `retention.max_age_secs`.
    /// Inserts or replaces a dry run.
    async fn save_dry_run(&self, dry_run: &DryRunRecord) -> StoreResult<()>;
    async fn get_dry_run(&self, tenant_id: &str, id: &str) -> StoreResult<Option<DryRunRecord>>;

    /// Retention: deletes up to `batch` finished deliveries (`succeeded`, `skipped`, `dead`, and plugin
    /// errors that will not run again) last updated before `older_than`, with their attempts, and up to
    /// `batch` processed events received before it that have no delivery left, and dry runs last updated
    /// before it. Returns the rows deleted; call again until it returns 0. Each call is short, so it never
    /// holds locks for long.
    async fn purge(&self, older_than: Millis, batch: u32) -> StoreResult<u64>;

    /// The deliveries made in `window` by `scope`, counted for the charts (see [`stats`]).
    async fn delivery_stats(&self, scope: StatsScope<'_>, window: StatsWindow) -> StoreResult<DeliveryStats>;

    /// Queue sizes and the oldest waiting item's age.
    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats>;
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
}
