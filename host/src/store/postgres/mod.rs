//! The PostgreSQL store: one database shared by several Gancho instances, through a pool of connections.
//!
//! Claims are safe across processes: each is one `UPDATE` whose rows come from a `SELECT … FOR UPDATE SKIP
//! LOCKED`, so two instances claiming at once lock disjoint rows and never wait for each other. The hot
//! path is one prepared statement per batch: ingest, a claim, completing events and recording attempts
//! each send their whole batch as arrays (`UNNEST`) and run as one statement, which PostgreSQL commits on
//! its own (`synchronous_commit` as the server has it; on by default, so a returned ingest is durable).

mod catalog;
mod deliveries;
mod events;
mod retention;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::{
    AttemptRecord, ClaimedDelivery, ClaimedEvent, Delivery, DeliveryFilter, Inserted, Millis, NewDelivery,
    NewEvent, PluginVersion, ProcessedEvent, QueueStats, Store, StoreError, StoreResult, Subscription,
    Tenant,
};

/// The schema, one migration per entry, applied in order and recorded in `schema_migrations`. A released
/// migration is never edited: changes go in a new one.
const MIGRATIONS: &[&str] =
    &[include_str!("migrations/001_init.sql"), include_str!("migrations/002_retention.sql")];

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
        let config = connection_config(url, schema)?;
        let target = describe(&config);
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(format!("failed to create the connection pool: {e}")))?;
        let store = PostgresStore { pool };
        let mut client = store
            .client()
            .await
            .map_err(|e| StoreError::Database(format!("failed to connect to PostgreSQL at {target}: {e}")))?;
        migrate(&mut client, schema).await?;
        tracing::debug!(database = %target, "opened postgres store");
        Ok(store)
    }

    /// A pooled connection.
    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|e| StoreError::Database(format!("no database connection: {e}")))
    }
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

    async fn create_api_key(&self, tenant_id: &str, key_sha256: &str, created_at: Millis) -> StoreResult<()> {
        catalog::create_api_key(&self.client().await?, tenant_id, key_sha256, created_at).await
    }

    async fn tenant_for_api_key(&self, key_sha256: &str) -> StoreResult<Option<String>> {
        catalog::tenant_for_api_key(&self.client().await?, key_sha256).await
    }

    async fn add_plugin_version(
        &self,
        name: &str,
        digest: &str,
        wasm: &[u8],
        created_at: Millis,
    ) -> StoreResult<PluginVersion> {
        catalog::add_plugin_version(&mut self.client().await?, name, digest, wasm, created_at).await
    }

    async fn list_plugins(&self) -> StoreResult<Vec<PluginVersion>> {
        catalog::list_plugins(&self.client().await?).await
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

    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<bool> {
        catalog::update_subscription(&self.client().await?, subscription).await
    }

    async fn delete_subscription(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        catalog::delete_subscription(&mut self.client().await?, tenant_id, id).await
    }

    async fn insert_events(&self, new_events: &[NewEvent]) -> StoreResult<Vec<Inserted>> {
        if new_events.is_empty() {
            return Ok(Vec::new());
        }
        events::insert(&self.client().await?, new_events).await
    }

    async fn claim_events(&self, limit: u32, lease_ms: i64, now: Millis) -> StoreResult<Vec<ClaimedEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        events::claim(&self.client().await?, limit, lease_ms, now).await
    }

    async fn complete_events(&self, processed: &[ProcessedEvent]) -> StoreResult<()> {
        if processed.is_empty() {
            return Ok(());
        }
        events::complete(&self.client().await?, processed).await
    }

    async fn claim_deliveries(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        deliveries::claim(&self.client().await?, limit, lease_ms, now).await
    }

    async fn claim_plugin_retries(
        &self,
        limit: u32,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<Vec<(String, ClaimedEvent)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        deliveries::claim_plugin_retries(&self.client().await?, limit, lease_ms, now).await
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

    async fn failing_since(&self, subscription_id: &str) -> StoreResult<Option<Millis>> {
        catalog::failing_since(&self.client().await?, subscription_id).await
    }

    async fn list_deliveries(&self, tenant_id: &str, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        deliveries::list(&self.client().await?, tenant_id, filter).await
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

    async fn purge(&self, older_than: Millis, batch: u32) -> StoreResult<u64> {
        retention::purge(&self.client().await?, older_than, batch).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio_postgres::NoTls;

    use super::PostgresStore;
    use crate::store::conformance::{Backend, conformance_tests};
    use crate::store::{NewEvent, Store, Tenant};

    /// Where the tests' database is; each test works in a schema of its own there.
    fn database_url() -> String {
        std::env::var("GANCHO_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// A schema no other test (in this run or a concurrent one) uses.
    fn unique_schema() -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!(
            "gancho_test_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        )
    }

    /// A plain connection (not pooled) with the store's settings, in `schema`.
    async fn connect_raw(schema: &str) -> tokio_postgres::Client {
        let config = super::connection_config(&database_url(), Some(schema)).unwrap();
        let (client, connection) = config.connect(NoTls).await.expect("failed to connect to PostgreSQL");
        tokio::spawn(connection);
        client
    }

    /// A fresh schema, dropped with the backend unless the test failed (to look at what it left).
    struct PostgresBackend {
        schema: String,
    }

    #[async_trait::async_trait]
    impl Backend for PostgresBackend {
        async fn new() -> Self {
            PostgresBackend { schema: unique_schema() }
        }

        async fn open(&self) -> Arc<dyn Store> {
            Arc::new(self.connect().await)
        }
    }

    impl PostgresBackend {
        async fn connect(&self) -> PostgresStore {
            PostgresStore::connect_with_schema(&database_url(), &self.schema)
                .await
                .expect("failed to open the store; is PostgreSQL running (GANCHO_TEST_DATABASE_URL)?")
        }
    }

    impl Drop for PostgresBackend {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("kept schema {} of the failed test", self.schema);
                return;
            }
            let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
            // Drop runs inside the test's runtime, which cannot block on itself: use a thread of its own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls).await?;
                    tokio::spawn(connection);
                    client.batch_execute(&sql).await
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("failed to drop schema {}: {dropped:?}", self.schema);
            }
        }
    }

    conformance_tests!(PostgresBackend);

    const T0: i64 = 1_700_000_000_000;
    const RACE: usize = 1_000;

    fn event(n: usize) -> NewEvent {
        NewEvent {
            tenant_id: "acme".to_owned(),
            id: format!("evt_{n:04}"),
            event_type: "call.ended".to_owned(),
            timestamp: "2024-05-01T10:00:00Z".to_owned(),
            data_json: "{}".to_owned(),
            received_at: T0 + n as i64,
        }
    }

    /// Two instances (two pools) claiming from the same events at once each get their own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_never_claim_the_same_event() {
        let backend = PostgresBackend::new().await;
        let first = backend.connect().await;
        let second = backend.connect().await;
        first
            .create_tenant(&Tenant { id: "acme".to_owned(), name: "Acme".to_owned(), created_at: T0 })
            .await
            .unwrap();
        let events: Vec<_> = (0..RACE).map(event).collect();
        for batch in events.chunks(250) {
            first.insert_events(batch).await.unwrap();
        }
        // Two claimers per instance, so that claims also race within a pool.
        let workers: Vec<_> = [&first, &first, &second, &second]
            .into_iter()
            .map(|store| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let claimed = store.claim_events(7, 30_000, T0 + RACE as i64).await.unwrap();
                        if claimed.is_empty() {
                            return mine;
                        }
                        mine.extend(claimed.into_iter().map(|e| e.id));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for worker in workers {
            for id in worker.await.unwrap() {
                assert!(seen.insert(id.clone()), "{id} claimed twice");
            }
        }
        assert_eq!(seen.len(), RACE);
    }

    /// Instances starting at once on a new database: one applies the migrations, the others wait and find
    /// them applied.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_migrations_succeed() {
        let backend = PostgresBackend::new().await;
        let url = database_url();
        let starts: Vec<_> = (0..3)
            .map(|_| {
                let (url, schema) = (url.clone(), backend.schema.clone());
                tokio::spawn(async move { PostgresStore::connect_with_schema(&url, &schema).await })
            })
            .collect();
        for start in starts {
            start.await.unwrap().expect("every instance starts");
        }
        let client = connect_raw(&backend.schema).await;
        let versions: Vec<i32> = client
            .query("SELECT version FROM schema_migrations ORDER BY version", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(versions, (1..=super::MIGRATIONS.len() as i32).collect::<Vec<_>>());
    }

    /// A batch mixing what `record_attempts` must order (a success between failures, a record that disables
    /// its subscription before another record of it, a delivery named twice, a deleted subscription, a
    /// missing delivery) ends as it does in SQLite, where records are written one by one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn record_attempts_batches_match_sqlite() {
        use crate::store::{
            AttemptRecord, DeliveryFilter, DeliveryStatus::*, NewDelivery, ProcessedEvent, SqliteStore,
            StoredRequest, Subscription,
        };

        let backend = PostgresBackend::new().await;
        let dir = tempfile::tempdir().unwrap();
        let stores: [Arc<dyn Store>; 2] = [
            Arc::new(backend.connect().await),
            Arc::new(SqliteStore::open(&dir.path().join("gancho.db")).unwrap()),
        ];
        let subscription = |id: &str, failing_since| Subscription {
            id: id.to_owned(),
            tenant_id: "acme".to_owned(),
            event_types: vec!["*".to_owned()],
            plugin_name: "slack".to_owned(),
            plugin_version: None,
            endpoint_url: "https://hooks.example.com/in".to_owned(),
            config_json: "{}".to_owned(),
            headers: vec![],
            secret: "whsec_1".to_owned(),
            previous_secret: None,
            previous_secret_expires_at: None,
            enabled: true,
            disabled_reason: None,
            failing_since,
            created_at: T0,
            updated_at: T0,
        };
        let delivery = |n: usize, subscription_id: &str| NewDelivery {
            id: format!("dlv_{n}"),
            tenant_id: "acme".to_owned(),
            event_id: "evt_0000".to_owned(),
            subscription_id: subscription_id.to_owned(),
            plugin: "slack@1".to_owned(),
            status: Pending,
            request: Some(StoredRequest {
                method: "POST".to_owned(),
                url: "https://hooks.example.com/in".to_owned(),
                headers: vec![],
                body: vec![],
            }),
            error: None,
            next_attempt_at: Some(T0),
            created_at: T0 + n as i64,
        };
        let record = |n: usize, subscription_id: &str, at: i64, new_status| AttemptRecord {
            delivery_id: format!("dlv_{n}"),
            subscription_id: subscription_id.to_owned(),
            at: T0 + at,
            status_code: Some(if new_status == Succeeded { 200 } else { 503 }),
            latency_ms: 5,
            response_excerpt: format!("at {at}"),
            error: None,
            new_status,
            next_attempt_at: (new_status == Failed).then_some(T0 + 1_000),
            disable_subscription: None,
        };
        let batch = [
            record(1, "sub_1", 1, Failed),
            record(2, "sub_1", 2, Succeeded),
            record(3, "sub_1", 3, Failed),
            record(4, "sub_1", 4, Failed),
            AttemptRecord { disable_subscription: Some("gone".to_owned()), ..record(5, "sub_2", 5, Dead) },
            record(6, "sub_2", 6, Failed),
            record(1, "sub_1", 7, Succeeded),
            record(7, "sub_3", 8, Failed),
            record(99, "sub_1", 9, Succeeded),
            record(8, "sub_2", 10, Dead),
            record(10, "sub_4", 11, Failed),
        ];
        for store in &stores {
            store
                .create_tenant(&Tenant { id: "acme".to_owned(), name: "Acme".to_owned(), created_at: T0 })
                .await
                .unwrap();
            for (id, failing_since) in
                [("sub_1", None), ("sub_2", Some(T0 - 100)), ("sub_3", None), ("sub_4", None)]
            {
                store.create_subscription(&subscription(id, failing_since)).await.unwrap();
            }
            store.insert_events(&[event(0)]).await.unwrap();
            let subscriptions =
                ["sub_1", "sub_1", "sub_1", "sub_1", "sub_2", "sub_2", "sub_3", "sub_2", "sub_2", "sub_4"];
            let deliveries = subscriptions.iter().enumerate().map(|(n, s)| delivery(n + 1, s)).collect();
            let processed =
                ProcessedEvent { tenant_id: "acme".to_owned(), event_id: "evt_0000".to_owned(), deliveries };
            store.complete_events(&[processed]).await.unwrap();
            assert_eq!(store.claim_deliveries(100, 30_000, T0).await.unwrap().len(), 10);
            store.delete_subscription("acme", "sub_3").await.unwrap();
            store.record_attempts(&batch).await.unwrap();
            // Then a batch of the common kind: one statement.
            store
                .record_attempts(&[record(10, "sub_4", 12, Succeeded), record(9, "sub_2", 13, Failed)])
                .await
                .unwrap();
        }

        let mut outcomes = Vec::new();
        for store in &stores {
            let mut deliveries = store.list_deliveries("acme", &DeliveryFilter::default()).await.unwrap();
            for delivery in &mut deliveries {
                // Stamped with the clock when sub_3 was deleted.
                if delivery.subscription_id == "sub_3" && delivery.attempts.is_empty() {
                    delivery.updated_at = 0;
                }
            }
            let subscriptions = store.list_subscriptions("acme").await.unwrap();
            outcomes.push((deliveries, subscriptions));
        }
        let [postgres, sqlite] = &outcomes[..] else { unreachable!() };
        assert_eq!(postgres.1, sqlite.1, "subscriptions");
        for (postgres, sqlite) in postgres.0.iter().zip(&sqlite.0) {
            assert_eq!(postgres, sqlite);
        }
        assert_eq!(postgres.0.len(), sqlite.0.len());
    }

    /// The hot path's statements find rows through indexes, and the claims walk theirs in order and lease
    /// by address, with the plan made when the statement is first prepared on a connection: on empty tables
    /// (a new installation) as on full ones without statistics (autovacuum off).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plans_use_indexes_whatever_the_statistics() {
        use super::{deliveries, events};

        let backend = PostgresBackend::new().await;
        drop(backend.connect().await);
        let client = connect_raw(&backend.schema).await;
        let claims = [
            ("claim_events", events::CLAIM_SQL, "events_unprocessed"),
            ("claim_deliveries", deliveries::CLAIM_SQL, "deliveries_due"),
            ("claim_plugin_retries", deliveries::CLAIM_PLUGIN_RETRIES_SQL, "deliveries_plugin_retries"),
        ];
        let writes = [
            ("insert_events", events::INSERT_SQL),
            ("complete_events", events::COMPLETE_SQL),
            ("replace_plugin_retry", deliveries::REPLACE_PLUGIN_RETRY_SQL),
            ("record_attempts", deliveries::RECORD_ATTEMPTS_SQL),
        ];
        for filled in [false, true] {
            if filled {
                client
                    .batch_execute(
                        "INSERT INTO tenants VALUES ('acme', 'Acme', 0);
                         INSERT INTO subscriptions VALUES ('sub_1', 'acme', '{*}', 'slack', NULL, 'https://x',
                             '{}', '[]', 'whsec', NULL, NULL, TRUE, NULL, NULL, 0, 0);
                         INSERT INTO events SELECT 'acme', 'evt_' || n, 'call.ended', 't', '{}', n, n < 9900, 0
                             FROM generate_series(1, 10000) AS n;
                         INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, plugin, status,
                                 request_method, request_url, request_headers, request_body, next_attempt_at,
                                 created_at, updated_at)
                             SELECT 'dlv_' || n, 'acme', 'evt_' || n, 'sub_1', 'slack@1',
                                 CASE WHEN n < 9900 THEN 'succeeded' WHEN n % 10 = 0 THEN 'plugin_error'
                                     ELSE 'pending' END,
                                 'POST', 'https://x', '[]', 'body', CASE WHEN n < 9900 THEN NULL ELSE n END, n, n
                             FROM generate_series(1, 10000) AS n;",
                    )
                    .await
                    .unwrap();
            }
            let plans = claims.iter().map(|&(name, sql, _)| (name, sql)).chain(writes);
            for (name, sql) in plans {
                let plan = generic_plan(&client, name, sql).await;
                let context = if filled { "a full table" } else { "an empty table" };
                for avoided in ["Seq Scan on", "Bitmap"] {
                    assert!(!plan.contains(avoided), "{name} on {context} should not use {avoided}:\n{plan}");
                }
                if let Some((_, _, index)) = claims.iter().find(|(claim, _, _)| *claim == name) {
                    for expected in [&format!("Index Scan using {index}"), "Tid Scan"] {
                        assert!(
                            plan.contains(expected),
                            "{name} on {context} should use {expected}:\n{plan}"
                        );
                    }
                    assert!(!plan.contains("Sort"), "{name} on {context} should not sort:\n{plan}");
                }
            }
        }
    }

    /// The plan `client` runs `sql` with, prepared now as `name`.
    async fn generic_plan(client: &tokio_postgres::Client, name: &str, sql: &str) -> String {
        let parameters = client.prepare(sql).await.unwrap().params().len();
        client.batch_execute(&format!("DEALLOCATE ALL; PREPARE {name} AS {sql}")).await.unwrap();
        let nulls = vec!["NULL"; parameters].join(", ");
        let explained = client.simple_query(&format!("EXPLAIN EXECUTE {name}({nulls})")).await.unwrap();
        let lines: Vec<&str> = explained
            .iter()
            .filter_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
                _ => None,
            })
            .collect();
        lines.join("\n")
    }
}
