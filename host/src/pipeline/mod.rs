//! The pipeline: claims stored events, finds each one's matching subscriptions, runs their plugins on the
//! [`PluginExecutor`] (fair between tenants), and commits each event — its deliveries stored, itself
//! marked processed — as soon as its own runs have ended, grouped with whatever else ended meanwhile. A
//! plugin's transient failure is stored as a `plugin_error` delivery that runs again later.
//!
//! No tenant can hold back another's events: a tenant whose queued plugin time (or number of claimed
//! events) is at its share gets no more of its events claimed until it drains — they wait in the store,
//! not in memory — and a subscription whose plugin keeps hitting its deadline is paused.

mod commit;
mod containment;
mod handoff;
mod jobs;
mod matching;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

pub use handoff::Handoff;
pub use jobs::{event_input, keep_to_allowed_hosts};
pub use matching::{event_type_matches, subscriptions_for, valid_event_type_pattern};

use commit::{Finished, InFlight};
use containment::Containment;
use jobs::{Job, Outcome, RunContext};

use crate::clock::now_millis;
use crate::delivery::capacity::SendCapacity;
use crate::executor::PluginExecutor;
use crate::metrics::Metrics;
use crate::plugins::{PluginCache, PluginRef};
use crate::runtime::Runtime;
use crate::store::{ClaimedEvent, Millis, NewDelivery, ProcessedEvent, Store, StoreError, Subscription};
use crate::tenancy::Policies;
use crate::wake::Wakeups;

/// How the pipeline claims and runs work; see `[workers]` and `[plugins]` in `host/gancho.example.toml`.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Most events (or plugin retries) claimed at once.
    pub batch_size: u32,
    pub lease_ms: i64,
    pub poll_interval: Duration,
    /// Delay before a plugin that failed transiently runs again.
    pub plugin_retry_delay_ms: i64,
    /// Stop retrying a transiently failing plugin for an event this long after the event arrived.
    pub plugin_retry_window_ms: i64,
    /// Claimed events and retries not yet committed, at most.
    pub max_in_flight: usize,
    /// Of those, at most this many of one tenant.
    pub max_in_flight_per_tenant: usize,
    /// A tenant with this much plugin time queued (by its recent mean run) gets no more events claimed
    /// until some of it has run.
    pub max_tenant_backlog: Duration,
    /// Pause a subscription's plugin runs after this many deadline hits in a row (0: never).
    pub pause_after_timeouts: u32,
}

/// What a claim found, which says what to wait for before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claimed {
    /// It took all it had room for: there may be more waiting.
    MaybeMore,
    /// It took everything claimable: wait for new events.
    Drained,
    /// It took everything claimable, but left some tenants' events in the store: also claim again when
    /// work is committed (their share may have room then).
    HeldBack,
}

/// The pipeline worker of one instance.
pub struct Pipeline {
    store: Arc<dyn Store>,
    plugins: Arc<PluginCache>,
    policies: Arc<Policies>,
    executor: Arc<PluginExecutor>,
    metrics: Arc<Metrics>,
    wake: Wakeups,
    deliveries: Arc<SendCapacity>,
    settings: PipelineSettings,
    runs: Arc<RunContext>,
    in_flight: Arc<InFlight>,
    /// How this instance's ingest hands committed events over, and where they arrive (taken by `run`).
    handoff: Handoff,
    handed: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<handoff::Handed>>>,
    /// When a claim last found no plugin retry due (`None`: the last one found some).
    retries_last_empty: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The parts of the service a pipeline works with.
pub struct PipelineParts {
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    pub plugins: Arc<PluginCache>,
    /// Each tenant's limits, applied to its runs.
    pub policies: Arc<Policies>,
    pub executor: Arc<PluginExecutor>,
    pub metrics: Arc<Metrics>,
    pub wake: Wakeups,
    /// This instance's delivery worker's send capacity: committed deliveries go straight into it when
    /// they may.
    pub deliveries: Arc<SendCapacity>,
}

impl Pipeline {
    pub fn new(parts: PipelineParts, settings: PipelineSettings) -> Pipeline {
        let PipelineParts { store, runtime, plugins, policies, executor, metrics, wake, deliveries } = parts;
        let runs = Arc::new(RunContext {
            runtime,
            metrics: metrics.clone(),
            containment: Arc::new(Containment::new(settings.pause_after_timeouts)),
            lease_ms: settings.lease_ms,
            retry_delay_ms: settings.plugin_retry_delay_ms,
            retry_window_ms: settings.plugin_retry_window_ms,
        });
        let in_flight = Arc::new(InFlight::default());
        let (handoff, handed) = Handoff::new(in_flight.clone(), executor.clone(), &settings);
        Pipeline {
            store,
            plugins,
            policies,
            executor,
            metrics,
            wake,
            deliveries,
            settings,
            runs,
            in_flight,
            handoff,
            handed: std::sync::Mutex::new(Some(handed)),
            retries_last_empty: std::sync::Mutex::new(None),
        }
    }

    /// The way for this instance's ingest to hand committed events straight to this pipeline.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Claims and runs work until `shutdown`; what was claimed before is run and committed first.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let (finished, to_commit) = tokio::sync::mpsc::unbounded_channel();
        let committer = tokio::spawn(commit::run(self.clone(), to_commit));
        let handed = self.handed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let taker = handed
            .map(|handed| tokio::spawn(self.clone().take_handed(handed, finished.clone(), shutdown.clone())));
        while !shutdown.is_cancelled() {
            let claimed = self.claim_and_start(&finished).await.unwrap_or_else(|error| {
                tracing::error!(%error, "pipeline claim failed; retrying");
                Claimed::Drained
            });
            match claimed {
                // Claim again once half a batch has room (at once if it has already): one claim per
                // commit would double the transactions under load.
                Claimed::MaybeMore => self.wait_for_room(&shutdown).await,
                Claimed::Drained | Claimed::HeldBack => {
                    let held_back = claimed == Claimed::HeldBack;
                    tokio::select! {
                        _ = self.wake.events.notified() => {}
                        _ = self.in_flight.freed.notified(), if held_back => {}
                        _ = tokio::time::sleep(self.settings.poll_interval) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
            }
        }
        if let Some(taker) = taker {
            let _ = taker.await;
        }
        // Runs in progress hold their own senders: the committer ends once the last is committed.
        drop(finished);
        let _ = committer.await;
    }

    /// Starts the runs of events the ingest hands over, until `shutdown` (those still waiting then are
    /// leased in the store, and claimed when their lease runs out).
    async fn take_handed(
        self: Arc<Self>,
        mut handed: tokio::sync::mpsc::UnboundedReceiver<handoff::Handed>,
        finished: UnboundedSender<Finished>,
        shutdown: CancellationToken,
    ) {
        let mut batch = Vec::with_capacity(self.settings.batch_size as usize);
        loop {
            tokio::select! {
                received = handed.recv_many(&mut batch, self.settings.batch_size as usize) => {
                    if received == 0 {
                        return;
                    }
                }
                _ = shutdown.cancelled() => return,
            }
            let tenants = batch.iter().map(|(event, _)| event.tenant_id.as_str());
            let subscriptions = match self.subscriptions_of(tenants).await {
                Ok(subscriptions) => subscriptions,
                Err(error) => {
                    // Left leased in the store: claimed again once the lease runs out.
                    tracing::error!(%error, events = batch.len(), "reading subscriptions failed; the events run later");
                    let tenants: Vec<String> = batch.drain(..).map(|(event, _)| event.tenant_id).collect();
                    self.in_flight.release(tenants.iter().map(String::as_str));
                    continue;
                }
            };
            for (event, leased_at) in batch.drain(..) {
                let tenant_subscriptions = &subscriptions[&event.tenant_id];
                self.start_event(event, tenant_subscriptions, leased_at, &finished);
            }
        }
    }

    fn retries_due(&self) -> bool {
        let last_empty = self.retries_last_empty.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        last_empty.is_none_or(|at| at.elapsed() >= self.settings.poll_interval)
    }

    fn retries_found(&self, found: bool) {
        let mut last_empty = self.retries_last_empty.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *last_empty = (!found).then(std::time::Instant::now);
    }

    /// Room for more claimed work.
    fn room(&self) -> usize {
        self.settings.max_in_flight.saturating_sub(self.in_flight.total())
    }

    async fn wait_for_room(&self, shutdown: &CancellationToken) {
        let refill = (self.settings.batch_size as usize / 2).clamp(1, self.settings.max_in_flight);
        while self.room() < refill && !shutdown.is_cancelled() {
            tokio::select! {
                _ = self.in_flight.freed.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }

    /// Claims as much as there is room for and starts its runs.
    async fn claim_and_start(
        self: &Arc<Self>,
        finished: &UnboundedSender<Finished>,
    ) -> Result<Claimed, StoreError> {
        let limit = self.room().min(self.settings.batch_size as usize) as u32;
        if limit == 0 {
            return Ok(Claimed::MaybeMore);
        }
        let excluded = self.tenants_at_their_share();
        let (lease_ms, now) = (self.settings.lease_ms, now_millis());
        // Plugin retries take at most a quarter of the room, so new events are never starved by them; they
        // are looked for again at once only while some were found, else once per poll interval.
        let retries = if self.retries_due() {
            let retries =
                self.store.claim_plugin_retries(limit.div_ceil(4), lease_ms, now, &excluded).await?;
            self.retries_found(!retries.is_empty());
            retries
        } else {
            Vec::new()
        };
        let event_limit = limit - retries.len() as u32;
        let events = self.store.claim_events(event_limit, lease_ms, now, &excluded).await?;
        let held_back = if excluded.is_empty() { Claimed::Drained } else { Claimed::HeldBack };
        if events.is_empty() && retries.is_empty() {
            return Ok(held_back);
        }

        let tenants = events.iter().chain(retries.iter().map(|(_, e)| e)).map(|e| e.tenant_id.as_str());
        let subscriptions = self.subscriptions_of(tenants).await?;
        let claimed = if events.len() as u32 == event_limit { Claimed::MaybeMore } else { held_back };
        for event in events {
            self.in_flight.add(&event.tenant_id);
            let tenant_subscriptions = &subscriptions[&event.tenant_id];
            self.start_event(event, tenant_subscriptions, now, finished);
        }
        for (delivery_id, event) in retries {
            self.in_flight.add(&event.tenant_id);
            let subscriptions = subscriptions[&event.tenant_id].clone();
            let (pipeline, finished) = (self.clone(), finished.clone());
            tokio::spawn(async move {
                let item = pipeline.run_retry(delivery_id, Arc::new(event), &subscriptions, now).await;
                let _ = finished.send(item);
            });
        }
        Ok(claimed)
    }

    /// The enabled subscriptions of each of these tenants, read once each.
    async fn subscriptions_of<'a>(
        &self,
        tenants: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, Vec<Arc<Subscription>>>, StoreError> {
        let mut subscriptions: HashMap<String, Vec<Arc<Subscription>>> = HashMap::new();
        for tenant in tenants {
            if !subscriptions.contains_key(tenant) {
                let list = self.store.list_subscriptions(tenant).await?;
                for subscription in &list {
                    self.runs.containment.observe(&subscription.id, subscription.paused_reason.is_some());
                }
                subscriptions.insert(
                    tenant.to_owned(),
                    list.into_iter().filter(|s| s.enabled).map(Arc::new).collect(),
                );
            }
        }
        Ok(subscriptions)
    }

    /// Starts the runs of an event claimed (or handed over) at `claimed_at`, counted in flight, through
    /// its tenant's `subscriptions` that match it; it is committed once they end (at once if none match).
    fn start_event(
        self: &Arc<Self>,
        event: ClaimedEvent,
        subscriptions: &[Arc<Subscription>],
        claimed_at: Millis,
        finished: &UnboundedSender<Finished>,
    ) {
        let event = Arc::new(event);
        let matching = matching::subscriptions_for(&event, subscriptions);
        if matching.is_empty() {
            let _ = finished.send(Finished::Event(processed(&event, Vec::new())));
            return;
        }
        let (pipeline, finished) = (self.clone(), finished.clone());
        tokio::spawn(async move {
            let item = pipeline.run_event(event, matching, claimed_at).await;
            let _ = finished.send(item);
        });
    }

    /// Tenants whose claimed events should wait in the store for now: at their share of the in-flight
    /// room, or with their share of plugin time queued.
    fn tenants_at_their_share(&self) -> Vec<String> {
        let per_tenant = self.settings.max_in_flight_per_tenant;
        self.in_flight
            .tenants()
            .into_iter()
            .filter(|(tenant, count)| {
                *count >= per_tenant || self.executor.backlog(tenant) >= self.settings.max_tenant_backlog
            })
            .map(|(tenant, _)| tenant)
            .collect()
    }

    /// Runs one new event through its matching subscriptions' plugins.
    async fn run_event(
        &self,
        event: Arc<ClaimedEvent>,
        matching: Vec<Arc<Subscription>>,
        claimed_at: Millis,
    ) -> Finished {
        let mut runs = Vec::with_capacity(matching.len());
        for subscription in matching {
            let job = self.job(event.clone(), subscription, claimed_at).await;
            runs.push(self.start(job));
        }
        let mut deliveries = Vec::new();
        for run in runs {
            match run.await {
                Some(new) => deliveries.extend(new),
                None => return Finished::Abandoned { tenant_id: event.tenant_id.clone() },
            }
        }
        Finished::Event(processed(&event, deliveries))
    }

    /// Runs a plugin retry again: the same subscription's plugin; its deliveries replace the failed one.
    async fn run_retry(
        &self,
        delivery_id: String,
        event: Arc<ClaimedEvent>,
        subscriptions: &[Arc<Subscription>],
        claimed_at: Millis,
    ) -> Finished {
        let abandoned = || Finished::Abandoned { tenant_id: event.tenant_id.clone() };
        let failed = match self.store.get_delivery(&event.tenant_id, &delivery_id).await {
            Ok(Some(failed)) => failed,
            Ok(None) => return abandoned(),
            Err(error) => {
                tracing::warn!(%error, delivery = %delivery_id, "cannot read a plugin retry; it runs later");
                return abandoned();
            }
        };
        // The subscription is gone or disabled: the failure stands.
        let Some(subscription) = subscriptions.iter().find(|s| s.id == failed.subscription_id).cloned()
        else {
            return abandoned();
        };
        let mut job = self.job(event.clone(), subscription, claimed_at).await;
        // A re-run's placeholder hands on what it re-runs; a retried re-run keeps saying so.
        job.rerun_of = failed.rerun_of;
        match self.start(job).await {
            Some(deliveries) => {
                Finished::Retry { tenant_id: event.tenant_id.clone(), delivery_id, deliveries }
            }
            None => abandoned(),
        }
    }

    async fn job(
        &self,
        event: Arc<ClaimedEvent>,
        subscription: Arc<Subscription>,
        claimed_at: Millis,
    ) -> Job {
        // A canary's share of events (chosen by event id, so a retry or replay goes the same way) runs the
        // candidate version.
        let version = match &subscription.canary {
            Some(canary) if crate::rollout::takes_candidate(&event.id, canary.percent) => {
                Some(canary.version)
            }
            _ => subscription.plugin_version,
        };
        let reference = PluginRef { name: subscription.plugin_name.clone(), version };
        // The API lets a subscription name only its own tenant's plugins; checked again here, so that no
        // path to the store can make one tenant's events run another's code.
        let plugin = match crate::tenancy::may_use(&subscription.tenant_id, &reference.name) {
            false => {
                Err(format!("plugin {} does not belong to tenant {}", reference.name, subscription.tenant_id))
            }
            true => self
                .plugins
                .resolve(&reference)
                .await
                .map(|(version, plugin)| (format!("{}@{version}", reference.name), plugin))
                .map_err(|error| error.to_string()),
        };
        let policy = self.policies.get(&subscription.tenant_id).await;
        Job { event, subscription, plugin, claimed_at, policy, rerun_of: None }
    }

    /// Queues the job on the executor in its tenant's turn, at once, and resolves to its deliveries, or
    /// `None` if it was not run (the event is then left for a later claim). A run that makes its
    /// subscription's deadline hits reach the threshold pauses the subscription.
    fn start(&self, job: Job) -> impl Future<Output = Option<Vec<NewDelivery>>> + '_ {
        let subscription = job.subscription.clone();
        // The containment knows both the pauses in the store (seen when subscriptions are listed) and
        // this instance's own; a run queued before a pause is checked again when it starts.
        let queued = if self.runs.containment.is_paused(&subscription.id) {
            Err(jobs::paused_delivery(&job, now_millis()))
        } else {
            let (runs, tenant) = (self.runs.clone(), job.event.tenant_id.clone());
            Ok(self.executor.submit(&tenant, move || runs.run_traced(&job)))
        };
        async move {
            match queued {
                Err(paused) => Some(vec![paused]),
                Ok(run) => match run.await? {
                    Outcome::Abandoned => None,
                    Outcome::Done { deliveries, pause } => {
                        if let Some(reason) = pause {
                            self.pause(&subscription, &reason).await;
                        }
                        Some(deliveries)
                    }
                },
            }
        }
    }

    async fn pause(&self, subscription: &Subscription, reason: &str) {
        let (tenant, id) = (&subscription.tenant_id, &subscription.id);
        match self.store.pause_subscription(tenant, id, reason, now_millis()).await {
            Ok(true) => {
                self.metrics.subscription_paused();
                tracing::warn!(tenant = %tenant, subscription = %id, reason, "paused a subscription's plugin runs");
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, subscription = %id, "pausing a subscription failed"),
        }
    }
}

fn processed(event: &ClaimedEvent, deliveries: Vec<NewDelivery>) -> ProcessedEvent {
    ProcessedEvent { tenant_id: event.tenant_id.clone(), event_id: event.id.clone(), deliveries }
}
