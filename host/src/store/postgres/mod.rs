//! The PostgreSQL store: one database shared by several Gancho instances, through a pool of connections.
//!
//! Claims are safe across processes: each is one `UPDATE` whose rows come from a `SELECT … FOR UPDATE SKIP
//! LOCKED`, so two instances claiming at once lock disjoint rows and never wait for each other. The hot
//! path is one prepared statement per batch: ingest, a claim, completing events and recording attempts
//! each send their whole batch as arrays (`UNNEST`) and run as one statement, which PostgreSQL commits on
//! its own (`synchronous_commit` as the server has it; on by default, so a returned ingest is durable).

mod access;
mod budgets;
mod catalog;
mod claims;
mod connections;
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
mod tls;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::{
    ApiKeyInfo, AttemptRecord, Budget, Canary, ClaimedDelivery, ClaimedEvent, Connection, ConnectionUse,
    Delivery, DeliveryClaim, DeliveryFilter, DestinationState, DryRunRecord, FailureChange, HandBack,
    HandOffTerms, Idempotent, Inserted, LaneStatus, Millis, NewDelivery, NewEvent, NewPluginVersion,
    PluginScope, PluginUsage, PluginVersion, ProcessedEvent, QueueStats, Requeued, Rerun, RolloutEnd,
    RolloutFailure, RolloutRecord, Store, StoreError, StoreResult, Subscription, SubscriptionHealth, Tenant,
    VersionCount,
};

/// The schema, one migration per entry, applied in order and recorded in `schema_migrations`. A released
/// migration is never edited: changes go in a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_retention.sql"),
    include_str!("migrations/003_endpoint_limits.sql"),
    include_str!("migrations/004_paused.sql"),
    include_str!("migrations/005_tenant_plugins.sql"),
    include_str!("migrations/006_connections.sql"),
    include_str!("migrations/007_rollouts.sql"),
    include_str!("migrations/008_lanes.sql"),
    include_str!("migrations/009_budgets.sql"),
    include_str!("migrations/010_access.sql"),
    include_str!("migrations/011_customer.sql"),
    include_str!("migrations/012_rollout_failures.sql"),
    include_str!("migrations/013_trace_context.sql"),
    include_str!("migrations/015_stats.sql"),
    include_str!("migrations/016_charts_and_retention_by_tenant.sql"),
];

/// Connections per instance: enough for the API, the pipeline and the delivery worker to overlap.
const POOL_SIZE: usize = 16;
/// How long opening a connection may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Planner settings for every connection. Each statement is prepared once per connection and planned
/// once (a generic plan), which saves planning CPU on every call, but a plan made while a table was empty
/// (a new installation) or its statistics stale (autovacuum off) would stay: a sequential scan instead of
/// finding claimed rows by address, a bitmap scan and a sort instead of walking a claim's index in order.
/// Every statement here has an index path, so scans that are not one are ruled out instead of estimated.
/// Walking a claim's index in order also marks the entries of finished rows dead, so later claims skip
/// them until vacuum removes them.
const SESSION_OPTIONS: &str =
    "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_bitmapscan=off";

/// The PostgreSQL implementation of [`Store`]. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and brings its
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(url, None).await
    }

    /// Like [`PostgresStore::connect`], but keeps every table in `schema` (created if missing), so that
    /// several independent stores (tests, staging next to production) can share one database. The name is
    /// lowercase letters, digits and `_`.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        let valid = schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::Database(format!(
                "schema name {schema:?} is not valid; use lowercase letters, digits and _"
            )));
        }
        PostgresStore::open(url, Some(schema)).await
    }

    async fn open(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
        let choice = tls::choose(url)?;
        let config = connection_config(&choice.url, schema)?;
        let target = describe(&config);
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match choice.tls {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(format!("failed to create the connection pool: {e}")))?;
        let store = PostgresStore { pool };
        let mut client = store.pool.get().await.map_err(|error| {
            StoreError::Database(format!(
                "failed to connect to PostgreSQL at {target}: {}",
                with_causes(&error)
            ))
        })?;
        migrate(&mut client, schema).await?;
        tracing::debug!(database = %target, "opened postgres store");
        Ok(store)
    }

    /// A pooled connection.
    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool
            .get()
            .await
            .map_err(|error| StoreError::Database(format!("no database connection: {}", with_causes(&error))))
    }
}

/// An error with the errors that caused it (a TLS handshake failure says why), outermost first.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let more = error.to_string();
        if !text.ends_with(&more) {
            text = format!("{text}: {more}");
        }
        cause = error.source();
    }
    text
}

/// The connection settings: the URL's, with [`SESSION_OPTIONS`] (which options in the URL can override)
/// and `schema` as the search path.
fn connection_config(url: &str, schema: Option<&str>) -> StoreResult<tokio_postgres::Config> {
    // Not the URL in the message: it may hold a password.
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Database(format!("database_url is not a valid PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let mut options = SESSION_OPTIONS.to_owned();
    if let Some(given) = config.get_options() {
        options = format!("{options} {given}");
    }
    if let Some(schema) = schema {
        options.push_str(&format!(" -c search_path={schema}"));
    }
    config.options(options);
    Ok(config)
}

/// `host:port/database`, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or_default())
}

/// Applies the migrations not yet applied, in one transaction. The advisory lock (per schema) makes
/// instances starting at once take turns: the first applies them, the others find them applied.
async fn migrate(client: &mut deadpool_postgres::Client, schema: Option<&str>) -> StoreResult<()> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('gancho migrations ' || COALESCE($1::text, current_schema()), 0))",
        &[&schema],
    )
    .await?;
    if let Some(schema) = schema {
        // Valid names need no quoting (see `connect_with_schema`).
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let applied: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0);
    let applied = applied as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database schema is version {applied} but this gancho knows versions up to {}; \
             run a newer gancho or restore a backup",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Database(format!("schema migration {version} failed: {e}")))?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&version]).await?;
    }
    tx.commit().await?;
    Ok(())
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// Maps a unique violation to `Conflict(what)`, a foreign key violation to `NotFound(missing)`, and
/// anything else to a database error.
fn constraint_error(
    what: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |error| match error.code() {
        Some(&SqlState::UNIQUE_VIOLATION) => StoreError::Conflict(what()),
        Some(&SqlState::FOREIGN_KEY_VIOLATION) => StoreError::NotFound(missing()),
        _ => error.into(),
    }
}

/// The JSON text stored for header pairs.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("failed to encode a column: {e}")))
}

/// Reads a JSON text column.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("failed to decode a column: {e}")))
}

/// A claim's `LIMIT`: PostgreSQL takes a `bigint`.
fn limit(value: u32) -> i64 {
    i64::from(value)
}

/// A statement parameter.
type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// Runs `statement` (prepared once per connection) with `params`.
async fn query(
    client: &impl GenericClient,
    statement: &str,
    params: &[Param<'_>],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(statement).await?;
    client.query(&statement, params).await
}

/// Runs `statement` (prepared once per connection) with `params`; the number of rows it changed.
async fn execute(
    client: &impl GenericClient,
    statement: &str,
    params: &[Param<'_>],
) -> Result<u64, tokio_postgres::Error> {
    let statement = client.prepare_cached(statement).await?;
    client.execute(&statement, params).await
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        catalog::create_tenant(&self.client().await?, tenant).await
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        catalog::get_tenant(&self.client().await?, id).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        catalog::list_tenants(&self.client().await?).await
    }

    async fn create_api_key(
        &self,
        tenant_id: &str,
        key_sha256: &str,
        prefix: &str,
        created_at: Millis,
    ) -> StoreResult<()> {
        catalog::create_api_key(&self.client().await?, tenant_id, key_sha256, prefix, created_at).await
    }

    async fn tenant_for_api_key(&self, key_sha256: &str) -> StoreResult<Option<String>> {
        catalog::tenant_for_api_key(&self.client().await?, key_sha256).await
    }

    async fn list_api_keys(&self, tenant_id: &str) -> StoreResult<Vec<ApiKeyInfo>> {
        access::list_api_keys(&self.client().await?, tenant_id).await
    }

    async fn delete_api_key(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        access::delete_api_key(&self.client().await?, tenant_id, id).await
    }

    async fn record_api_key_use(&self, key_sha256: &str, at: Millis) -> StoreResult<()> {
        access::record_api_key_use(&self.client().await?, key_sha256, at).await
    }

    async fn end_console_sessions(&self, tenant_id: &str, at: Millis) -> StoreResult<bool> {
        access::end_console_sessions(&self.client().await?, tenant_id, at).await
    }

    async fn console_sessions_valid_after(&self, tenant_id: &str) -> StoreResult<Option<Millis>> {
        access::console_sessions_valid_after(&self.client().await?, tenant_id).await
    }

    async fn shared_secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        access::shared_secret(&self.client().await?, name, candidate).await
    }

    async fn follow_portal_link(&self, id: &str, expires_at: Millis, now: Millis) -> StoreResult<bool> {
        access::follow_link(&self.client().await?, id, expires_at, now).await
    }

    async fn set_tenant_platforms(&self, id: &str, platforms: &[String]) -> StoreResult<bool> {
        catalog::set_tenant_platforms(&self.client().await?, id, platforms).await
    }

    async fn set_tenant_policy(&self, id: &str, policy_json: Option<&str>) -> StoreResult<bool> {
        catalog::set_tenant_policy(&self.client().await?, id, policy_json).await
    }

    async fn add_plugin_version(&self, new: &NewPluginVersion<'_>) -> StoreResult<PluginVersion> {
        catalog::add_plugin_version(&mut self.client().await?, new).await
    }

    async fn list_plugins(&self, scope: PluginScope<'_>) -> StoreResult<Vec<PluginVersion>> {
        catalog::list_plugins(&self.client().await?, scope).await
    }

    async fn live_plugin_versions(&self) -> StoreResult<Vec<(String, u32)>> {
        catalog::live_plugin_versions(&self.client().await?).await
    }

    async fn tenant_plugin_usage(&self, tenant_id: &str) -> StoreResult<PluginUsage> {
        catalog::tenant_plugin_usage(&self.client().await?, tenant_id).await
    }

    async fn delete_plugin_version(&self, name: &str, version: u32) -> StoreResult<bool> {
        catalog::delete_plugin_version(&self.client().await?, name, version).await
    }

    async fn list_plugin_versions(&self, name: &str) -> StoreResult<Vec<PluginVersion>> {
        catalog::list_plugin_versions(&self.client().await?, name).await
    }

    async fn get_plugin(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<Option<(PluginVersion, Vec<u8>)>> {
        catalog::get_plugin(&self.client().await?, name, version).await
    }

    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<()> {
        catalog::create_subscription(&self.client().await?, subscription).await
    }

    async fn get_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Subscription>> {
        catalog::get_subscription(&self.client().await?, tenant_id, id).await
    }

    async fn list_subscriptions(&self, tenant_id: &str) -> StoreResult<Vec<Subscription>> {
        catalog::list_subscriptions(&self.client().await?, tenant_id).await
    }

    async fn subscriptions_following(&self, plugin_name: &str) -> StoreResult<Vec<Subscription>> {
        catalog::subscriptions_following(&self.client().await?, plugin_name).await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<bool> {
        catalog::update_subscription(&self.client().await?, subscription).await
    }

    async fn delete_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        catalog::delete_subscription(&mut self.client().await?, tenant_id, id).await
    }

    async fn pause_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        reason: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        catalog::pause_subscription(&self.client().await?, tenant_id, id, reason, now).await
    }

    async fn create_connection(&self, connection: &Connection) -> StoreResult<()> {
        connections::create(&self.client().await?, connection).await
    }

    async fn get_connection(&self, tenant_id: &str, name: &str) -> StoreResult<Option<Connection>> {
        connections::get(&self.client().await?, tenant_id, name).await
    }

    async fn list_connections(&self, tenant_id: &str) -> StoreResult<Vec<Connection>> {
        connections::list(&self.client().await?, Some(tenant_id)).await
    }

    async fn all_connections(&self) -> StoreResult<Vec<Connection>> {
        connections::list(&self.client().await?, None).await
    }

    async fn update_connection(&self, connection: &Connection) -> StoreResult<bool> {
        connections::update(&self.client().await?, connection).await
    }

    async fn delete_connection(&self, tenant_id: &str, name: &str) -> StoreResult<bool> {
        connections::delete(&self.client().await?, tenant_id, name).await
    }

    async fn record_connection_use(
        &self,
        tenant_id: &str,
        name: &str,
        used: &ConnectionUse,
    ) -> StoreResult<()> {
        connections::record_use(&self.client().await?, tenant_id, name, used).await
    }

    async fn insert_events(&self, new_events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
        if new_events.is_empty() {
            return Ok(Vec::new());
        }
        events::insert(&self.client().await?, new_events).await
    }

    async fn claim_events(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
        exclude_tenants: &[String],
    ) -> StoreResult<Vec<ClaimedEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        events::claim(&self.client().await?, limit, lease_ms, now, exclude_tenants).await
    }

    async fn get_event(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ClaimedEvent>> {
        events::get(&self.client().await?, tenant_id, id).await
    }

    async fn complete_events(&self, processed: &[ProcessedEvent]) -> StoreResult<()> {
        if processed.is_empty() {
            return Ok(());
        }
        events::complete(&self.client().await?, processed).await
    }

    async fn complete_events_handing_off(
        &self,
        processed: Vec<ProcessedEvent>,
        terms: HandOffTerms,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        if processed.is_empty() {
            return Ok(Vec::new());
        }
        handoff::complete_handing_off(&mut self.client().await?, &processed, &terms).await
    }

    async fn claim_deliveries(&self, claim: DeliveryClaim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        claims::claim(&mut self.client().await?, claim).await
    }

    async fn claim_plugin_retries(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
        exclude_tenants: &[String],
    ) -> StoreResult<Vec<(String, ClaimedEvent)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        deliveries::claim_plugin_retries(&self.client().await?, limit, lease_ms, now, exclude_tenants).await
    }

    async fn replace_plugin_retry(&self, delivery_id: &str, new: &[NewDelivery]) -> StoreResult<()> {
        deliveries::replace_plugin_retry(&self.client().await?, delivery_id, new).await
    }

    async fn record_attempts(&self, records: &[AttemptRecord]) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        deliveries::record_attempts(&mut self.client().await?, records).await
    }

    async fn subscription_health(
        &self,
        subscription_id: &str,
        since: Millis,
    ) -> StoreResult<SubscriptionHealth> {
        health::subscription_health(&self.client().await?, subscription_id, since).await
    }

    async fn claim_failure_changes(
        &self,
        failing_before: Millis,
        limit: u32,
    ) -> StoreResult<Vec<FailureChange>> {
        health::claim_failure_changes(&self.client().await?, failing_before, limit).await
    }

    async fn begin_idempotent(
        &self,
        tenant_id: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
    ) -> StoreResult<Idempotent> {
        idempotency::begin(&self.client().await?, tenant_id, key, fingerprint, now, expired_before).await
    }

    async fn finish_idempotent(
        &self,
        tenant_id: &str,
        key: &str,
        answer: Option<(u16, String)>,
    ) -> StoreResult<()> {
        idempotency::finish(&self.client().await?, tenant_id, key, answer).await
    }

    async fn rerun_delivery(&self, tenant_id: &str, id: &str, now: Millis) -> StoreResult<Rerun> {
        reruns::rerun(&mut self.client().await?, tenant_id, id, now).await
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
        reruns::rerun_range(
            &mut self.client().await?,
            tenant_id,
            subscription_id,
            (from, to),
            include_sent,
            now,
        )
        .await
    }

    async fn failing_since(&self, subscription_id: &str) -> StoreResult<Option<Millis>> {
        catalog::failing_since(&self.client().await?, subscription_id).await
    }

    async fn list_deliveries(&self, tenant_id: &str, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        deliveries::list(&self.client().await?, tenant_id, filter).await
    }

    async fn pause_destination(
        &self,
        destination: &str,
        until: Millis,
        reason: &str,
        backoff_ms: Option<i64>,
    ) -> StoreResult<()> {
        budgets::pause_destination(&self.client().await?, destination, until, reason, backoff_ms).await
    }

    async fn destination_backoff(&self, destination: &str) -> StoreResult<Option<(i64, Millis)>> {
        budgets::destination_backoff(&self.client().await?, destination).await
    }

    async fn set_destination_budget(
        &self,
        destinations: &[String],
        budget: Option<Budget>,
    ) -> StoreResult<()> {
        budgets::set_destination_budget(&self.client().await?, destinations, budget).await
    }

    async fn destination_states(&self, tenant_id: &str) -> StoreResult<Vec<DestinationState>> {
        budgets::destination_states(&self.client().await?, tenant_id).await
    }

    async fn release_deliveries(&self, ids: &[String], due: Millis) -> StoreResult<()> {
        deliveries::release(&self.client().await?, ids, due).await
    }

    async fn lane_status(&self, subscription_id: &str) -> StoreResult<LaneStatus> {
        lanes::lane_status(&self.client().await?, subscription_id).await
    }

    async fn get_delivery(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Delivery>> {
        deliveries::get(&self.client().await?, tenant_id, id).await
    }

    async fn retry_delivery(&self, tenant_id: &str, id: &str, now: Millis) -> StoreResult<bool> {
        deliveries::retry(&self.client().await?, tenant_id, id, now).await
    }

    async fn replay_deliveries(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        now: Millis,
    ) -> StoreResult<u64> {
        deliveries::replay(&self.client().await?, tenant_id, subscription_id, from, to, now).await
    }

    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats> {
        events::queue_stats(&self.client().await?, now).await
    }

    async fn delivery_stats(
        &self,
        scope: super::StatsScope<'_>,
        window: super::StatsWindow,
    ) -> StoreResult<super::DeliveryStats> {
        stats::delivery_stats(&self.client().await?, scope, window).await
    }

    async fn subscription_events(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> StoreResult<Vec<(Millis, ClaimedEvent)>> {
        let client = self.client().await?;
        rollouts::subscription_events(&client, tenant_id, subscription_id, (from, to), limit).await
    }

    async fn start_rollout(
        &self,
        rollout: &RolloutRecord,
        pin_version: u32,
        canary: &Canary,
    ) -> StoreResult<()> {
        rollouts::start_rollout(&mut self.client().await?, rollout, pin_version, canary).await
    }

    async fn end_rollout(&self, tenant_id: &str, id: &str, end: &RolloutEnd<'_>) -> StoreResult<bool> {
        rollouts::end_rollout(&mut self.client().await?, tenant_id, id, end).await
    }

    async fn update_rollout(&self, id: &str, body_json: &str, reruns_pending: bool) -> StoreResult<()> {
        rollouts::update_rollout(&self.client().await?, id, body_json, reruns_pending).await
    }

    async fn get_rollout(&self, tenant_id: &str, id: &str) -> StoreResult<Option<RolloutRecord>> {
        rollouts::get_rollout(&self.client().await?, tenant_id, id).await
    }

    async fn list_rollouts(&self, tenant_id: &str, subscription_id: &str) -> StoreResult<Vec<RolloutRecord>> {
        rollouts::list_rollouts(&self.client().await?, tenant_id, subscription_id).await
    }

    async fn rollouts_to_watch(&self) -> StoreResult<Vec<RolloutRecord>> {
        rollouts::rollouts_to_watch(&self.client().await?).await
    }

    async fn version_counts(&self, subscription_id: &str, since: Millis) -> StoreResult<Vec<VersionCount>> {
        rollouts::version_counts(&self.client().await?, subscription_id, since).await
    }

    async fn requeue_for_rerun(&self, rerun: &HandBack<'_>) -> StoreResult<Requeued> {
        rollouts::requeue_for_rerun(&mut self.client().await?, rerun).await
    }

    async fn rollout_failures(&self, tenant_id: &str, rollout_id: &str) -> StoreResult<Vec<RolloutFailure>> {
        rollouts::rollout_failures(&self.client().await?, tenant_id, rollout_id).await
    }

    async fn save_dry_run(&self, dry_run: &DryRunRecord) -> StoreResult<()> {
        rollouts::save_dry_run(&self.client().await?, dry_run).await
    }

    async fn get_dry_run(&self, tenant_id: &str, id: &str) -> StoreResult<Option<DryRunRecord>> {
        rollouts::get_dry_run(&self.client().await?, tenant_id, id).await
    }

    async fn purge(&self, older_than: Millis, batch: u32) -> StoreResult<u64> {
        retention::purge(&self.client().await?, older_than, batch).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
