//! # Gancho
//!
//! A WebAssembly plugin host for webhook payload transformation: the platform posts events, each
//! tenant's subscriptions run their plugins in a sandbox, and the requests the plugins produced are
//! delivered, signed and retried. Every hand-off between stages is a database commit, so a crash at any
//! point loses nothing.
//!
//! ## Layout
//! - [`api`]: the HTTP API (ingest, tenants, their keys and sessions, plugins, subscriptions, deliveries,
//!   health, metrics, OpenAPI), and who may call it (failed authentications limited per client).
//! - [`console`]: the web console for operators and the portal each tenant uses (embeddable through
//!   short-lived portal links), pages rendered here over the API's own operations.
//! - [`pipeline`]: claimed events → matching subscriptions → plugin runs → deliveries, committed as each
//!   event's runs end; plugins that keep hitting their deadline are paused.
//! - [`executor`]: the threads that run plugins, shared fairly between tenants (a fair queue, a slow lane).
//! - [`plugins`]: plugin references and the cache of compiled plugins (filled by the API, used by the
//!   pipeline).
//! - [`rollout`]: a candidate version tried safely: dry runs over past events with a diff of the
//!   requests, and canaries that promote or roll back by their rules.
//! - [`connections`]: tenants' credentials for the services they deliver to, sealed at rest, and the
//!   header each puts on a request (OAuth access tokens obtained, cached and refreshed here).
//! - [`delivery`]: claimed deliveries — in their lanes (ordering key, tenant share) and within their
//!   destinations' budgets, merged by their plugin when they wait — → signing → destination guard → HTTP →
//!   attempts and retries.
//! - [`runtime`]: the wasmtime engine, plugin loading and precompile cache, limits, one invocation.
//! - [`store`]: the storage interface and its SQLite implementation; claims with leases on due work.
//! - [`tenancy`]: what each tenant may use: quotas on its own plugins, lower per-invocation limits.
//! - [`event`]: the event envelope the platform posts, and its validation; [`catalog`]: the event types
//!   the platforms send, their fields and samples; [`conditions`]: a subscription's "only when" filter.
//! - [`config`]: settings from the default file, a config file and `GANCHO_*` variables.
//! - [`metrics`], [`wake`], [`ids`], [`clock`]: Prometheus metrics, wake-ups between stages, identifiers,
//!   wall-clock time; [`telemetry`]: OpenTelemetry traces of each event's journey (off unless configured).
//! - [`cli`]: the `gancho` command line (`serve`, `receive`, `stand-in oauth`, `plugin new`, `plugin build`,
//!   `plugin check`, `plugin run`, `plugin diff`).
//!
//! [`run`] wires it all together on a listener the caller binds, so tests can use `127.0.0.1:0`.

pub mod api;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod conditions;
pub mod config;
pub mod connections;
pub mod console;
pub mod delivery;
pub mod event;
pub mod executor;
pub mod ids;
pub mod metrics;
pub mod notifications;
pub mod pipeline;
pub mod plugins;
pub mod rollout;
pub mod runtime;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod wake;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use config::Config;
use delivery::client::HttpSender;
use delivery::guard::DestinationGuard;
use delivery::worker::DeliveryWorker;
use executor::{ExecutorSettings, PluginExecutor, Shares};
use pipeline::{Pipeline, PipelineParts, PipelineSettings};
use plugins::PluginCache;
use runtime::{Runtime, RuntimeSettings};
use store::{PostgresStore, SqliteStore, Store};
use tenancy::Policies;

/// The connections' sealer (from `connections.keys`) and registry. Refuses to start when a stored connection
/// was sealed with a key that is not configured: its deliveries could never be sent.
async fn open_connections(
    config: &Config,
    store: &Arc<dyn Store>,
    guard: DestinationGuard,
) -> anyhow::Result<connections::Registry> {
    let sealer =
        connections::Sealer::from_config(&config.connections.keys, &config.connections.active_key)
            .map_err(|message| anyhow::anyhow!("connections.keys (GANCHO_CONNECTIONS__KEYS): {message}"))?;
    let mut missing: Vec<String> = store
        .all_connections()
        .await
        .context("failed to read the connections")?
        .into_iter()
        .filter(|c| !sealer.as_ref().is_some_and(|sealer| sealer.has_key(&c.key_id)))
        .map(|c| c.key_id)
        .collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        anyhow::bail!(
            "connections are sealed with key(s) {} that connections.keys (GANCHO_CONNECTIONS__KEYS) does not list; \
             add them (`id:base64-key`) — without them those connections cannot be opened",
            missing.join(", ")
        );
    }
    let tokens = connections::TokenService::new(guard, Duration::from_secs(config.delivery.timeout_secs));
    Ok(connections::Registry::new(store.clone(), sealer.map(Arc::new), tokens))
}

/// Opens the database the configuration names: the embedded SQLite database by default, or PostgreSQL
/// (shared by several instances) for a `postgres://` URL.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let sqlite = |path: std::path::PathBuf| -> anyhow::Result<Arc<dyn Store>> {
        let store = SqliteStore::open(&path)
            .with_context(|| format!("failed to open the database {}", path.display()))?;
        Ok(Arc::new(store))
    };
    match config.database_url.as_str() {
        "" => sqlite(config.data_dir.join("gancho.db")),
        url if url.starts_with("sqlite://") => sqlite(url["sqlite://".len()..].into()),
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresStore::connect(url)
                .await
                .with_context(|| format!("failed to open the database at database_url {}", redact(url)))?;
            Ok(Arc::new(store))
        }
        other => anyhow::bail!(
            "database_url `{}` is not supported: leave it empty for the embedded database, or use sqlite://PATH \
             or postgres://USER@HOST:PORT/DATABASE",
            redact(other)
        ),
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Runs the service on `listener` until `shutdown` is cancelled: the API stops accepting, requests in
/// progress finish, the pipeline finishes its batch, and sends in flight finish and are recorded. Work
/// not started stays in the database for the next start.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut config = config;
    config.check_secrets().map_err(anyhow::Error::msg)?;
    let store = open_store(&config).await?;
    if config.console.signing_secret.is_empty() {
        config.console.signing_secret = store
            .shared_secret("console.signing_secret", &ids::random_token())
            .await
            .context("failed to read the console's signing secret from the database")?;
    }
    let config = Arc::new(config);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let sharing = config.plugins.resolve(cores, config.workers.batch_size);
    let runtime = Arc::new(Runtime::new(RuntimeSettings {
        limits: config.limits.clone(),
        cache_dir: Some(config.data_dir.join("plugin-cache")),
        max_instances: sharing.max_instances,
        instance_budget: runtime::InstanceBudget {
            core_instances: sharing.core_instances_per_instance,
            memories: sharing.memories_per_instance,
            tables: sharing.tables_per_instance,
        },
    })?);
    let executor = Arc::new(
        PluginExecutor::start(ExecutorSettings {
            threads: sharing.threads,
            slow_lane_threads: sharing.slow_lane_threads,
            shares: Shares {
                per_tenant: sharing.threads_per_tenant,
                slow_run: Duration::from_millis(sharing.slow_run_ms),
            },
        })
        .context("failed to start the plugin threads")?,
    );
    let plugins = Arc::new(PluginCache::new(store.clone(), runtime.clone()));
    let policies = Arc::new(Policies::new(store.clone(), config.quotas, config.limits.clone()));
    let metrics = Arc::new(metrics::Metrics::default());
    let wake = wake::Wakeups::default();
    let guard = DestinationGuard::new(config.allowed_networks().map_err(anyhow::Error::msg)?);

    let lease_ms = (config.workers.lease_secs * 1000) as i64;
    let poll_interval = Duration::from_millis(config.workers.poll_interval_ms);
    let retry_window_ms = config.delivery.retry.delays_secs.iter().sum::<u64>() as i64 * 1000;
    let send_capacity = Arc::new(delivery::capacity::SendCapacity::new(
        config.delivery.max_in_flight,
        lease_ms,
        config.delivery.max_in_flight_per_endpoint,
    ));
    let parts = PipelineParts {
        store: store.clone(),
        runtime: runtime.clone(),
        plugins: plugins.clone(),
        policies: policies.clone(),
        executor: executor.clone(),
        metrics: metrics.clone(),
        wake: wake.clone(),
        deliveries: send_capacity.clone(),
    };
    let pipeline = Arc::new(Pipeline::new(
        parts,
        PipelineSettings {
            batch_size: config.workers.batch_size,
            lease_ms,
            poll_interval,
            plugin_retry_delay_ms: 5_000,
            plugin_retry_window_ms: retry_window_ms,
            max_in_flight: sharing.max_in_flight,
            max_in_flight_per_tenant: sharing.max_in_flight_per_tenant,
            max_tenant_backlog: Duration::from_millis(sharing.max_queued_ms_per_tenant),
            pause_after_timeouts: sharing.pause_after_timeouts,
        },
    ));
    let connections = Arc::new(open_connections(&config, &store, guard.clone()).await?);
    let notifier = notifications::Notifier {
        store: store.clone(),
        sender: HttpSender::new(guard.clone(), Duration::from_secs(config.delivery.timeout_secs), 4),
        config: config.notifications.clone(),
    };
    let worker = Arc::new(DeliveryWorker {
        store: store.clone(),
        connections: connections.clone(),
        sender: Arc::new(HttpSender::new(
            guard,
            Duration::from_secs(config.delivery.timeout_secs),
            (config.delivery.max_in_flight_per_endpoint as usize).min(config.delivery.max_in_flight),
        )),
        schedule: config.delivery.retry.clone(),
        metrics: metrics.clone(),
        wake: wake.clone(),
        batch_size: config.workers.batch_size,
        lease_ms,
        poll_interval,
        capacity: send_capacity,
        max_in_flight_per_endpoint: config.delivery.max_in_flight_per_endpoint,
        disable_after_failing_ms: (config.delivery.disable_after_failing_secs * 1000) as i64,
        ordering_max_hold_secs: config.delivery.ordering_max_hold_secs,
        merger: Some(Arc::new(delivery::budgets::batch::Merger::new(
            store.clone(),
            plugins.clone(),
            runtime.clone(),
            executor.clone(),
            policies.clone(),
        ))),
    });

    let workers_stop = CancellationToken::new();
    let retention_task =
        tokio::spawn(purge_old_work(store.clone(), config.retention.clone(), workers_stop.clone()));
    let handoff = pipeline.handoff();
    let pipeline_task = tokio::spawn(pipeline.run(workers_stop.clone()));
    // A rollout's runs that chose the candidate before a rollback are committed within the pipeline's lease.
    let rollout_task = tokio::spawn(rollout::watcher::run(store.clone(), lease_ms, workers_stop.clone()));
    // The first event for a version on a new instance should not wait for it to compile.
    tokio::spawn(plugins.clone().precompile_live_versions());
    let delivery_task = tokio::spawn(worker.run(workers_stop.clone()));
    let notifier_task = tokio::spawn(notifier.run(workers_stop.clone()));

    let ingest = api::IngestQueue::start(store.clone(), config.ingest.max_batch, Some(handoff), wake.clone());
    let state = api::AppState::new(api::Services {
        tokens: api::ServiceTokens::new(&config),
        config: config.clone(),
        store,
        runtime,
        plugins,
        policies,
        executor,
        connections,
        ingest,
        metrics,
        wake,
        dry_runs: rollout::dry_run::Running::default(),
        access: Arc::default(),
        compiling: Arc::default(),
        replays: Arc::default(),
        oauth_flows: Arc::default(),
    });
    let address = listener.local_addr()?;
    // Said once the database is open and every worker runs: from here on, requests are answered.
    eprintln!("gancho: listening on http://{address}");
    // Each request knows its client's address, by which failed authentications are limited.
    let app = console::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let served = server.await.context("the HTTP server failed");

    workers_stop.cancel();
    let _ = pipeline_task.await;
    let _ = delivery_task.await;
    let _ = retention_task.await;
    let _ = rollout_task.await;
    let _ = notifier_task.await;
    tracing::info!("gancho stopped");
    served
}

/// Deletes finished work older than `retention.max_age_secs`, a batch at a time, every
/// `retention.interval_secs`, until `stop`.
async fn purge_old_work(store: Arc<dyn Store>, retention: config::RetentionConfig, stop: CancellationToken) {
    let interval = Duration::from_secs(retention.interval_secs);
    while !stop.is_cancelled() {
        let older_than = clock::now_millis() - (retention.max_age_secs * 1000) as i64;
        let mut purged = 0;
        loop {
            match store.purge(older_than, retention.batch_size).await {
                Ok(0) => break,
                Ok(rows) => purged += rows,
                Err(error) => {
                    tracing::warn!(%error, "retention purge failed; trying again later");
                    break;
                }
            }
            if stop.is_cancelled() {
                break;
            }
            // Let other writers in between batches.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if purged > 0 {
            tracing::info!(rows = purged, "purged finished work older than retention.max_age_secs");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => {}
        }
    }
}
