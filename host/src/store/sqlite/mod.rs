//! The embedded SQLite store: one database file in WAL mode, one writer connection and a few readers.
//!
//! rusqlite is synchronous, so every call runs on tokio's blocking pool. Every write (claims included) goes
//! through the single writer connection in one `BEGIN IMMEDIATE` transaction: a claim's select-then-lease
//! is atomic without row locks, and a batch shares one disk sync. WAL lets the readers run meanwhile. The
//! workers' leases and attempt records commit without waiting for the disk (see [`writer::Synced`]); everything
//! else, accepted events first, is on disk when its call returns.

mod access;
mod budgets;
mod catalog;
mod connections;
mod database;
mod deliveries;
mod events;
mod handoff;
mod health;
mod idempotency;
mod lanes;
mod reruns;
mod retention;
mod rollouts;
mod stats;
mod writer;

#[cfg(test)]
mod plans;

pub use database::SqliteStore;

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{ErrorCode, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ApiKeyInfo, AttemptRecord, Budget, Canary, ClaimedDelivery, ClaimedEvent, ConnectionUse, Delivery,
    DeliveryClaim, DeliveryFilter, DestinationState, DryRunRecord, FailureChange, HandBack, HandOffTerms,
    Idempotent, Inserted, LaneStatus, Millis, NewDelivery, NewEvent, NewPluginVersion, PluginScope,
    PluginUsage, PluginVersion, ProcessedEvent, QueueStats, Requeued, Rerun, RolloutEnd, RolloutFailure,
    RolloutRecord, Store, StoreError, StoreResult, Subscription, SubscriptionHealth, Tenant, VersionCount,
};

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// Whether `error` is a primary key or unique constraint violation.
fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                )
    )
}

/// Maps a unique violation to `Conflict(what)` and anything else to a database error.
fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| if is_unique_violation(&error) { StoreError::Conflict(what()) } else { error.into() }
}

/// The JSON text stored for a list or header pairs.
fn to_json<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("failed to encode a column: {e}")))
}

/// Reads a JSON text column.
fn json_column<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, e.into()))
}

/// Reads an optional JSON text column.
fn optional_json_column<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>> {
    match row.get::<_, Option<String>>(index)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, e.into())),
    }
}

/// A claim's `LIMIT`: SQLite takes an `i64`.
fn limit(value: u32) -> i64 {
    i64::from(value)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let tenant = tenant.clone();
        self.write(move |tx| catalog::create_tenant(tx, &tenant)).await
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        let id = id.to_owned();
        self.read(move |tx| catalog::get_tenant(tx, &id)).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.read(|tx| catalog::list_tenants(tx)).await
    }

    async fn create_api_key(
        &self,
        tenant_id: &str,
        key_sha256: &str,
        prefix: &str,
        created_at: Millis,
    ) -> StoreResult<()> {
        let (tenant_id, key_sha256, prefix) =
            (tenant_id.to_owned(), key_sha256.to_owned(), prefix.to_owned());
        self.write(move |tx| catalog::create_api_key(tx, &tenant_id, &key_sha256, &prefix, created_at)).await
    }

    async fn tenant_for_api_key(&self, key_sha256: &str) -> StoreResult<Option<String>> {
        let key_sha256 = key_sha256.to_owned();
        self.read(move |tx| catalog::tenant_for_api_key(tx, &key_sha256)).await
    }

    async fn list_api_keys(&self, tenant_id: &str) -> StoreResult<Vec<ApiKeyInfo>> {
        let tenant_id = tenant_id.to_owned();
        self.read(move |tx| access::list_api_keys(tx, &tenant_id)).await
    }

    async fn delete_api_key(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.write(move |tx| access::delete_api_key(tx, &tenant_id, &id)).await
    }

    async fn record_api_key_use(&self, key_sha256: &str, at: Millis) -> StoreResult<()> {
        let key_sha256 = key_sha256.to_owned();
        self.write(move |tx| access::record_api_key_use(tx, &key_sha256, at)).await
    }

    async fn end_console_sessions(&self, tenant_id: &str, at: Millis) -> StoreResult<bool> {
        let tenant_id = tenant_id.to_owned();
        self.write(move |tx| access::end_console_sessions(tx, &tenant_id, at)).await
    }

    async fn console_sessions_valid_after(&self, tenant_id: &str) -> StoreResult<Option<Millis>> {
        let tenant_id = tenant_id.to_owned();
        self.read(move |tx| access::console_sessions_valid_after(tx, &tenant_id)).await
    }

    async fn shared_secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        let (name, candidate) = (name.to_owned(), candidate.to_owned());
        self.write(move |tx| access::shared_secret(tx, &name, &candidate)).await
    }

    async fn follow_portal_link(&self, id: &str, expires_at: Millis, now: Millis) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |tx| access::follow_link(tx, &id, expires_at, now)).await
    }

    async fn set_tenant_platforms(&self, id: &str, platforms: &[String]) -> StoreResult<bool> {
        let (id, platforms) = (id.to_owned(), platforms.to_vec());
        self.write(move |tx| catalog::set_tenant_platforms(tx, &id, &platforms)).await
    }

    async fn set_tenant_policy(&self, id: &str, policy_json: Option<&str>) -> StoreResult<bool> {
        let (id, policy_json) = (id.to_owned(), policy_json.map(str::to_owned));
        self.write(move |tx| catalog::set_tenant_policy(tx, &id, policy_json.as_deref())).await
    }

    async fn add_plugin_version(&self, new: &NewPluginVersion<'_>) -> StoreResult<PluginVersion> {
        let (name, digest, wasm) = (new.name.to_owned(), new.digest.to_owned(), new.wasm.to_vec());
        let quota = new.quota.map(|q| (q.tenant_id.to_owned(), q.max_versions_per_plugin, q.max_total_bytes));
        let created_at = new.created_at;
        self.write(move |tx| {
            let quota = quota.as_ref().map(|(tenant_id, max_versions_per_plugin, max_total_bytes)| {
                super::PluginQuota {
                    tenant_id,
                    max_versions_per_plugin: *max_versions_per_plugin,
                    max_total_bytes: *max_total_bytes,
                }
            });
            let new = NewPluginVersion { name: &name, digest: &digest, wasm: &wasm, created_at, quota };
            catalog::add_plugin_version(tx, &new)
        })
        .await
    }

    async fn list_plugins(&self, scope: PluginScope<'_>) -> StoreResult<Vec<PluginVersion>> {
        let tenant = match scope {
            PluginScope::Tenant(tenant) => Some(tenant.to_owned()),
            _ => None,
        };
        let shared = scope == PluginScope::Shared;
        self.read(move |tx| {
            let scope = match &tenant {
                Some(tenant) => PluginScope::Tenant(tenant),
                None if shared => PluginScope::Shared,
                None => PluginScope::All,
            };
            catalog::list_plugins(tx, scope)
        })
        .await
    }

    async fn live_plugin_versions(&self) -> StoreResult<Vec<(String, u32)>> {
        self.read(|tx| catalog::live_plugin_versions(tx)).await
    }

    async fn tenant_plugin_usage(&self, tenant_id: &str) -> StoreResult<PluginUsage> {
        let tenant_id = tenant_id.to_owned();
        self.read(move |tx| catalog::tenant_plugin_usage(tx, &tenant_id)).await
    }

    async fn delete_plugin_version(&self, name: &str, version: u32) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write(move |tx| catalog::delete_plugin_version(tx, &name, version)).await
    }

    async fn list_plugin_versions(&self, name: &str) -> StoreResult<Vec<PluginVersion>> {
        let name = name.to_owned();
        self.read(move |tx| catalog::list_plugin_versions(tx, &name)).await
    }

    async fn get_plugin(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<Option<(PluginVersion, Vec<u8>)>> {
        let name = name.to_owned();
        self.read(move |tx| catalog::get_plugin(tx, &name, version)).await
    }

    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<()> {
        let subscription = subscription.clone();
        self.write(move |tx| catalog::create_subscription(tx, &subscription)).await
    }

    async fn get_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Subscription>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.read(move |tx| catalog::get_subscription(tx, &tenant_id, &id)).await
    }

    async fn list_subscriptions(&self, tenant_id: &str) -> StoreResult<Vec<Subscription>> {
        let tenant_id = tenant_id.to_owned();
        self.read(move |tx| catalog::list_subscriptions(tx, &tenant_id)).await
    }

    async fn subscriptions_following(&self, plugin_name: &str) -> StoreResult<Vec<Subscription>> {
        let plugin_name = plugin_name.to_owned();
        self.read(move |tx| catalog::subscriptions_following(tx, &plugin_name)).await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<bool> {
        let subscription = subscription.clone();
        self.write(move |tx| catalog::update_subscription(tx, &subscription)).await
    }

    async fn delete_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.write(move |tx| catalog::delete_subscription(tx, &tenant_id, &id)).await
    }

    async fn pause_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        reason: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let (tenant_id, id, reason) = (tenant_id.to_owned(), id.to_owned(), reason.to_owned());
        self.write(move |tx| catalog::pause_subscription(tx, &tenant_id, &id, &reason, now)).await
    }

    async fn create_connection(&self, connection: &super::Connection) -> StoreResult<()> {
        let connection = connection.clone();
        self.write(move |tx| connections::create(tx, &connection)).await
    }

    async fn get_connection(&self, tenant_id: &str, name: &str) -> StoreResult<Option<super::Connection>> {
        let (tenant_id, name) = (tenant_id.to_owned(), name.to_owned());
        self.read(move |tx| connections::get(tx, &tenant_id, &name)).await
    }

    async fn list_connections(&self, tenant_id: &str) -> StoreResult<Vec<super::Connection>> {
        let tenant_id = tenant_id.to_owned();
        self.read(move |tx| connections::list(tx, Some(&tenant_id))).await
    }

    async fn all_connections(&self) -> StoreResult<Vec<super::Connection>> {
        self.read(|tx| connections::list(tx, None)).await
    }

    async fn update_connection(&self, connection: &super::Connection) -> StoreResult<bool> {
        let connection = connection.clone();
        self.write(move |tx| connections::update(tx, &connection)).await
    }

    async fn delete_connection(&self, tenant_id: &str, name: &str) -> StoreResult<bool> {
        let (tenant_id, name) = (tenant_id.to_owned(), name.to_owned());
        self.write(move |tx| connections::delete(tx, &tenant_id, &name)).await
    }

    async fn record_connection_use(
        &self,
        tenant_id: &str,
        name: &str,
        used: &ConnectionUse,
    ) -> StoreResult<()> {
        let (tenant_id, name, used) = (tenant_id.to_owned(), name.to_owned(), used.clone());
        self.write(move |tx| connections::record_use(tx, &tenant_id, &name, &used)).await
    }

    async fn insert_events(&self, new_events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
        if new_events.is_empty() {
            return Ok(Vec::new());
        }
        let new_events = new_events.to_vec();
        self.write(move |tx| events::insert(tx, &new_events)).await
    }

    async fn claim_events(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
        exclude_tenants: &[String],
    ) -> StoreResult<Vec<ClaimedEvent>> {
        let excluded = json_array(exclude_tenants);
        self.write_bookkeeping(move |tx| events::claim(tx, limit, lease_ms, now, &excluded)).await
    }

    async fn get_event(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ClaimedEvent>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.read(move |tx| events::get(tx, &tenant_id, &id)).await
    }

    async fn complete_events(&self, processed: &[ProcessedEvent]) -> StoreResult<()> {
        if processed.is_empty() {
            return Ok(());
        }
        let processed = processed.to_vec();
        self.write(move |tx| events::complete(tx, &processed)).await
    }

    async fn complete_events_handing_off(
        &self,
        processed: Vec<ProcessedEvent>,
        terms: HandOffTerms,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        if processed.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |tx| events::complete_handing_off(tx, &processed, &terms)).await
    }

    async fn claim_deliveries(&self, claim: DeliveryClaim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
        // As the JSON array the claim reads with `json_each`.
        let sent = json_array(claim.sent);
        let merging = claim.merging_plugins.to_vec();
        let claim = DeliveryClaim { sent: &[], merging_plugins: &[], ..claim };
        self.write_bookkeeping(move |tx| {
            deliveries::claim(tx, &DeliveryClaim { merging_plugins: &merging, ..claim }, &sent)
        })
        .await
    }

    async fn claim_plugin_retries(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
        exclude_tenants: &[String],
    ) -> StoreResult<Vec<(String, ClaimedEvent)>> {
        let excluded = json_array(exclude_tenants);
        self.write_bookkeeping(move |tx| {
            deliveries::claim_plugin_retries(tx, limit, lease_ms, now, &excluded)
        })
        .await
    }

    async fn replace_plugin_retry(&self, delivery_id: &str, new: &[NewDelivery]) -> StoreResult<()> {
        let (delivery_id, new) = (delivery_id.to_owned(), new.to_vec());
        self.write(move |tx| deliveries::replace_plugin_retry(tx, &delivery_id, &new)).await
    }

    async fn record_attempts(&self, records: &[AttemptRecord]) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let records = records.to_vec();
        self.write_bookkeeping(move |tx| deliveries::record_attempts(tx, &records)).await
    }

    async fn subscription_health(
        &self,
        subscription_id: &str,
        since: Millis,
    ) -> StoreResult<SubscriptionHealth> {
        let subscription_id = subscription_id.to_owned();
        self.read(move |tx| health::subscription_health(tx, &subscription_id, since)).await
    }

    async fn claim_failure_changes(
        &self,
        failing_before: Millis,
        limit: u32,
    ) -> StoreResult<Vec<FailureChange>> {
        self.write(move |tx| health::claim_failure_changes(tx, failing_before, limit)).await
    }

    async fn begin_idempotent(
        &self,
        tenant_id: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
    ) -> StoreResult<Idempotent> {
        let (tenant_id, key, fingerprint) = (tenant_id.to_owned(), key.to_owned(), fingerprint.to_owned());
        self.write(move |tx| idempotency::begin(tx, &tenant_id, &key, &fingerprint, now, expired_before))
            .await
    }

    async fn finish_idempotent(
        &self,
        tenant_id: &str,
        key: &str,
        answer: Option<(u16, String)>,
    ) -> StoreResult<()> {
        let (tenant_id, key) = (tenant_id.to_owned(), key.to_owned());
        self.write(move |tx| idempotency::finish(tx, &tenant_id, &key, answer)).await
    }

    async fn rerun_delivery(&self, tenant_id: &str, id: &str, now: Millis) -> StoreResult<Rerun> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.write(move |tx| reruns::rerun(tx, &tenant_id, &id, now)).await
    }

    async fn rerun_deliveries(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        include_sent: bool,
        now: Millis,
    ) -> StoreResult<u64> {
        let (tenant_id, subscription_id) = (tenant_id.to_owned(), subscription_id.to_owned());
        self.write(move |tx| {
            reruns::rerun_range(tx, &tenant_id, &subscription_id, (from, to), include_sent, now)
        })
        .await
    }

    async fn failing_since(&self, subscription_id: &str) -> StoreResult<Option<Millis>> {
        let subscription_id = subscription_id.to_owned();
        self.read(move |tx| catalog::failing_since(tx, &subscription_id)).await
    }

    async fn list_deliveries(&self, tenant_id: &str, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let (tenant_id, filter) = (tenant_id.to_owned(), filter.clone());
        self.read(move |tx| deliveries::list(tx, &tenant_id, &filter)).await
    }

    async fn pause_destination(
        &self,
        destination: &str,
        until: Millis,
        reason: &str,
        backoff_ms: Option<i64>,
    ) -> StoreResult<()> {
        let (destination, reason) = (destination.to_owned(), reason.to_owned());
        self.write(move |tx| budgets::pause_destination(tx, &destination, until, &reason, backoff_ms)).await
    }

    async fn destination_backoff(&self, destination: &str) -> StoreResult<Option<(i64, Millis)>> {
        let destination = destination.to_owned();
        self.read(move |tx| budgets::destination_backoff(tx, &destination)).await
    }

    async fn set_destination_budget(
        &self,
        destinations: &[String],
        budget: Option<Budget>,
    ) -> StoreResult<()> {
        let destinations = destinations.to_vec();
        self.write(move |tx| budgets::set_destination_budget(tx, &destinations, budget)).await
    }

    async fn destination_states(&self, tenant_id: &str) -> StoreResult<Vec<DestinationState>> {
        let tenant_id = tenant_id.to_owned();
        self.read(move |tx| budgets::destination_states(tx, &tenant_id)).await
    }

    async fn release_deliveries(&self, ids: &[String], due: Millis) -> StoreResult<()> {
        let ids = ids.to_vec();
        self.write(move |tx| deliveries::release(tx, &ids, due)).await
    }

    async fn lane_status(&self, subscription_id: &str) -> StoreResult<LaneStatus> {
        let subscription_id = subscription_id.to_owned();
        self.read(move |tx| lanes::lane_status(tx, &subscription_id)).await
    }

    async fn get_delivery(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.read(move |tx| deliveries::get(tx, &tenant_id, &id)).await
    }

    async fn retry_delivery(&self, tenant_id: &str, id: &str, now: Millis) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.write(move |tx| deliveries::retry(tx, &tenant_id, &id, now)).await
    }

    async fn replay_deliveries(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        now: Millis,
    ) -> StoreResult<u64> {
        let (tenant_id, subscription_id) = (tenant_id.to_owned(), subscription_id.to_owned());
        self.write(move |tx| deliveries::replay(tx, &tenant_id, &subscription_id, from, to, now)).await
    }

    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats> {
        self.read(move |tx| events::queue_stats(tx, now)).await
    }

    async fn delivery_stats(
        &self,
        scope: super::StatsScope<'_>,
        window: super::StatsWindow,
    ) -> StoreResult<super::DeliveryStats> {
        let scope = stats::OwnedScope::of(scope);
        self.read(move |tx| stats::delivery_stats(tx, &scope, window)).await
    }

    async fn subscription_events(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> StoreResult<Vec<(Millis, ClaimedEvent)>> {
        let (tenant_id, subscription_id) = (tenant_id.to_owned(), subscription_id.to_owned());
        self.read(move |tx| {
            rollouts::subscription_events(tx, &tenant_id, &subscription_id, (from, to), limit)
        })
        .await
    }

    async fn start_rollout(
        &self,
        rollout: &RolloutRecord,
        pin_version: u32,
        canary: &Canary,
    ) -> StoreResult<()> {
        let (rollout, canary) = (rollout.clone(), canary.clone());
        self.write(move |tx| rollouts::start_rollout(tx, &rollout, pin_version, &canary)).await
    }

    async fn end_rollout(&self, tenant_id: &str, id: &str, end: &RolloutEnd<'_>) -> StoreResult<bool> {
        let (tenant_id, id, body) = (tenant_id.to_owned(), id.to_owned(), end.body_json.to_owned());
        let (state, at, pin_version, reruns_pending) =
            (end.state, end.at, end.pin_version, end.reruns_pending);
        self.write(move |tx| {
            let end = RolloutEnd { state, at, body_json: &body, pin_version, reruns_pending };
            rollouts::end_rollout(tx, &tenant_id, &id, &end)
        })
        .await
    }

    async fn update_rollout(&self, id: &str, body_json: &str, reruns_pending: bool) -> StoreResult<()> {
        let (id, body_json) = (id.to_owned(), body_json.to_owned());
        self.write(move |tx| rollouts::update_rollout(tx, &id, &body_json, reruns_pending)).await
    }

    async fn get_rollout(&self, tenant_id: &str, id: &str) -> StoreResult<Option<RolloutRecord>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.read(move |tx| rollouts::get_rollout(tx, &tenant_id, &id)).await
    }

    async fn list_rollouts(&self, tenant_id: &str, subscription_id: &str) -> StoreResult<Vec<RolloutRecord>> {
        let (tenant_id, subscription_id) = (tenant_id.to_owned(), subscription_id.to_owned());
        self.read(move |tx| rollouts::list_rollouts(tx, &tenant_id, &subscription_id)).await
    }

    async fn rollouts_to_watch(&self) -> StoreResult<Vec<RolloutRecord>> {
        self.read(|tx| rollouts::rollouts_to_watch(tx)).await
    }

    async fn version_counts(&self, subscription_id: &str, since: Millis) -> StoreResult<Vec<VersionCount>> {
        let subscription_id = subscription_id.to_owned();
        self.read(move |tx| rollouts::version_counts(tx, &subscription_id, since)).await
    }

    async fn requeue_for_rerun(&self, rerun: &HandBack<'_>) -> StoreResult<Requeued> {
        let (rollout_id, tenant_id, subscription_id, plugin, reason) = (
            rerun.rollout_id.to_owned(),
            rerun.tenant_id.to_owned(),
            rerun.subscription_id.to_owned(),
            rerun.plugin.to_owned(),
            rerun.reason.to_owned(),
        );
        let (since, now, keep_failures, claimed_by_lease_end) =
            (rerun.since, rerun.now, rerun.keep_failures, rerun.claimed_by_lease_end);
        self.write(move |tx| {
            let rerun = HandBack {
                rollout_id: &rollout_id,
                tenant_id: &tenant_id,
                subscription_id: &subscription_id,
                plugin: &plugin,
                since,
                now,
                reason: &reason,
                keep_failures,
                claimed_by_lease_end,
            };
            rollouts::requeue_for_rerun(tx, &rerun)
        })
        .await
    }

    async fn rollout_failures(&self, tenant_id: &str, rollout_id: &str) -> StoreResult<Vec<RolloutFailure>> {
        let (tenant_id, rollout_id) = (tenant_id.to_owned(), rollout_id.to_owned());
        self.read(move |tx| rollouts::rollout_failures(tx, &tenant_id, &rollout_id)).await
    }

    async fn save_dry_run(&self, dry_run: &DryRunRecord) -> StoreResult<()> {
        let dry_run = dry_run.clone();
        self.write(move |tx| rollouts::save_dry_run(tx, &dry_run)).await
    }

    async fn get_dry_run(&self, tenant_id: &str, id: &str) -> StoreResult<Option<DryRunRecord>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.read(move |tx| rollouts::get_dry_run(tx, &tenant_id, &id)).await
    }

    async fn purge(&self, older_than: Millis, batch: u32) -> StoreResult<u64> {
        self.write(move |tx| retention::purge(tx, older_than, batch)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|tx| Ok(tx.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
}

/// A list as the JSON array a statement reads with `json_each`.
fn json_array<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::SqliteStore;
    use crate::store::Store;
    use crate::store::conformance::{Backend, conformance_tests};

    /// A fresh database file in a temporary directory, removed with it.
    struct SqliteBackend {
        dir: tempfile::TempDir,
    }

    #[async_trait::async_trait]
    impl Backend for SqliteBackend {
        const HANDS_OVER: bool = true;

        async fn new() -> Self {
            SqliteBackend { dir: tempfile::tempdir().expect("failed to create a temporary directory") }
        }

        async fn open(&self) -> Arc<dyn Store> {
            // A subdirectory that does not exist yet: opening creates it.
            Arc::new(
                SqliteStore::open(&self.dir.path().join("data/gancho.db")).expect("failed to open store"),
            )
        }
    }

    conformance_tests!(SqliteBackend);

    #[test]
    fn migrations_run_twice_are_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gancho.db");
        drop(SqliteStore::open(&path).unwrap());
        drop(SqliteStore::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, super::database::MIGRATIONS.len());
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}
