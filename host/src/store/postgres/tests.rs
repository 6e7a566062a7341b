//! The storage conformance suite against PostgreSQL, and the tests only PostgreSQL needs.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;

use super::PostgresStore;
use crate::store::conformance::{Backend, conformance_tests};
use crate::store::{DeliveryClaim, NewEvent, Store, Tenant};

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
    const HANDS_OVER: bool = true;

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
        origin: None,
        lease_until: 0,
    }
}

/// Two instances (two pools) claiming from the same events at once each get their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_claim_the_same_event() {
    let backend = PostgresBackend::new().await;
    let first = backend.connect().await;
    let second = backend.connect().await;
    first
        .create_tenant(&Tenant {
            id: "acme".to_owned(),
            name: "Acme".to_owned(),
            created_at: T0,
            policy_json: None,
            platforms: Vec::new(),
        })
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
                    let claimed = store.claim_events(7, 30_000, T0 + RACE as i64, &[]).await.unwrap();
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
        max_in_flight: None,
        rate_limit: None,
        paused_reason: None,
        paused_at: None,
        created_at: T0,
        updated_at: T0,
        connections: vec![],
        allowed_hosts: None,
        canary: None,
        ordering_key: None,
        ordering_max_hold_secs: None,
        name: None,
        filter: None,
        notify: None,
        trace_context: false,
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
        error_kind: None,
        logs_json: None,
        next_attempt_at: Some(T0),
        created_at: T0 + n as i64,
        lane: None,
        destination: None,
        test: false,
        rerun_of: None,
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
        delivery_error: None,
        paced: false,
        batch_id: None,
        batch_limit: None,
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
            .create_tenant(&Tenant {
                id: "acme".to_owned(),
                name: "Acme".to_owned(),
                created_at: T0,
                policy_json: None,
                platforms: Vec::new(),
            })
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
        assert_eq!(
            store
                .claim_deliveries(DeliveryClaim {
                    limit: 100,
                    lease_ms: 30_000,
                    now: T0,
                    default_max_in_flight: 1_000,
                    sent: &[],
                    max_in_flight_per_tenant: u32::MAX,
                    merging_plugins: &[],
                    default_budget: |_| None,
                })
                .await
                .unwrap()
                .len(),
            10
        );
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
    use super::{claims, deliveries, events};

    let backend = PostgresBackend::new().await;
    drop(backend.connect().await);
    let client = connect_raw(&backend.schema).await;
    let claims: [(&str, &str, &[&str]); 3] = [
        ("claim_events", events::CLAIM_SQL, &["Index Scan using events_unprocessed", "Tid Scan"]),
        (
            "claim_deliveries",
            claims::CANDIDATES_SQL,
            &["Index Scan using deliveries_due", "Scan using deliveries_in_flight"],
        ),
        (
            "claim_plugin_retries",
            deliveries::CLAIM_PLUGIN_RETRIES_SQL,
            &["Index Scan using deliveries_plugin_retries", "Tid Scan"],
        ),
    ];
    let writes = [
        ("insert_events", events::INSERT_SQL),
        ("complete_events", events::COMPLETE_SQL),
        ("lease_deliveries", claims::LEASE_SQL),
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
            if let Some((_, _, expectations)) = claims.iter().find(|(claim, _, _)| *claim == name) {
                for expected in expectations.iter() {
                    assert!(plan.contains(expected), "{name} on {context} should use {expected}:\n{plan}");
                }
                // The walk is in index order; only the in-flight counts (a row per busy subscription) may
                // be grouped by sorting.
                let sorts_the_walk =
                    plan.lines().any(|line| line.contains("Sort Key:") && line.contains("_at"));
                assert!(!sorts_the_walk, "{name} on {context} should not sort what it walks:\n{plan}");
            }
        }
        // The charts and the retention purge find the whole service's deliveries tenant by tenant: there is
        // no index of deliveries by age alone.
        let charts = crate::store::stats::stats_sql(crate::store::StatsScope::Service);
        let walks = [
            ("chart_outcomes", charts.outcomes),
            ("chart_sent", charts.sent),
            ("purge", super::retention::PURGE_DELIVERIES_SQL.to_owned()),
        ];
        for (name, sql) in walks {
            let plan = generic_plan(&client, name, &crate::store::stats::postgres_params(&sql)).await;
            let context = if filled { "a full table" } else { "an empty table" };
            assert!(
                plan.contains("deliveries_by_tenant"),
                "{name} on {context} should walk tenants:\n{plan}"
            );
            assert!(
                !plan.contains("Seq Scan on deliveries"),
                "{name} on {context} reads every delivery:\n{plan}"
            );
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

/// `url` with `parameters` added to its query.
fn with_query(url: &str, parameters: &str) -> String {
    format!("{url}{}{parameters}", if url.contains('?') { '&' } else { '?' })
}

/// With `sslmode=verify-full` the connection is TLS and the server's certificate is checked: refused when
/// no trusted CA signed it, accepted with the CA given as `sslrootcert`. (This machine's server has TLS on
/// with its `localhost` certificate; a server without TLS must refuse such a connection instead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_verify_the_server() {
    let backend = PostgresBackend::new().await;
    let plain = backend.connect().await;
    let setting = |name: &'static str| {
        let store = plain.clone();
        async move {
            store
                .client()
                .await
                .unwrap()
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    let (tls_on, certificate) = (setting("ssl").await == "on", setting("ssl_cert_file").await);

    let url = with_query(&database_url(), "sslmode=verify-full");
    let refused = PostgresStore::connect_with_schema(&url, &backend.schema)
        .await
        .err()
        .expect("a server whose certificate no trusted CA signed is refused")
        .to_string();
    if !tls_on {
        assert!(refused.contains("TLS") || refused.contains("SSL"), "{refused}");
        return;
    }
    assert!(refused.contains("certificate"), "{refused}");

    let by_name = database_url().replacen("127.0.0.1", "localhost", 1);
    let url = with_query(&by_name, &format!("sslmode=verify-full&sslrootcert={certificate}"));
    let store = PostgresStore::connect_with_schema(&url, &backend.schema)
        .await
        .unwrap_or_else(|error| panic!("connecting with sslrootcert={certificate}: {error}"));
    let client = store.client().await.unwrap();
    let encrypted: bool = client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(encrypted, "the connection is not encrypted");
}
