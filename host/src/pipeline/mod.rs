//! The pipeline: claims stored events, finds each one's matching subscriptions, runs their plugins in the
//! sandbox, and stores the resulting deliveries together with marking the event processed — one
//! transaction per batch. A plugin's transient failure is stored as a `plugin_error` delivery that runs
//! again later.

mod matching;
mod plugins;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use matching::{event_type_matches, valid_event_type_pattern};
pub use plugins::{PluginCache, PluginRef};

use crate::metrics::Metrics;
use crate::runtime::{EventInput, InvokeError, Plugin, Runtime, SubscriptionInput};
use crate::store::{
    ClaimedEvent, DeliveryStatus, Millis, NewDelivery, ProcessedEvent, Store, StoredRequest, Subscription,
};
use crate::wake::Wakeups;

/// What the pipeline worker needs.
pub struct Pipeline {
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    pub plugins: Arc<PluginCache>,
    pub metrics: Arc<Metrics>,
    pub wake: Wakeups,
    pub batch_size: u32,
    pub lease_ms: i64,
    pub poll_interval: Duration,
    /// Delay before a plugin that failed transiently runs again.
    pub plugin_retry_delay_ms: i64,
    /// Stop retrying a transiently failing plugin for an event this long after the event arrived.
    pub plugin_retry_window_ms: i64,
}

/// One plugin run to do: an event through a subscription's plugin.
struct Job {
    event: Arc<ClaimedEvent>,
    subscription: Arc<Subscription>,
    plugin: Result<(String, Plugin), String>,
}

impl Pipeline {
    /// Processes batches until `shutdown`; a batch in progress is finished first.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let worked = match self.process_batch().await {
                Ok(worked) => worked,
                Err(error) => {
                    tracing::error!(%error, "pipeline batch failed; retrying");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    _ = self.wake.events.notified() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
    }

    /// Claims and processes one batch of events and plugin retries; false if there was nothing to do.
    pub async fn process_batch(&self) -> Result<bool, crate::store::StoreError> {
        let now = crate::api::now_millis();
        let events = self.store.claim_events(self.batch_size, self.lease_ms, now).await?;
        let retries = self.store.claim_plugin_retries(self.batch_size, self.lease_ms, now).await?;
        if events.is_empty() && retries.is_empty() {
            return Ok(false);
        }
        let mut subscriptions: HashMap<String, Vec<Arc<Subscription>>> = HashMap::new();
        for tenant in events.iter().chain(retries.iter().map(|(_, e)| e)).map(|e| &e.tenant_id) {
            if !subscriptions.contains_key(tenant) {
                let list = self.store.list_subscriptions(tenant).await?;
                subscriptions
                    .insert(tenant.clone(), list.into_iter().filter(|s| s.enabled).map(Arc::new).collect());
            }
        }

        // New events: every enabled subscription whose patterns match.
        let mut jobs = Vec::new();
        let mut job_owner = Vec::new(); // index into `processed` for each job
        let mut processed = Vec::with_capacity(events.len());
        for event in events {
            let event = Arc::new(event);
            for subscription in &subscriptions[&event.tenant_id] {
                if subscription.event_types.iter().any(|p| event_type_matches(p, &event.event_type)) {
                    jobs.push(self.job(event.clone(), subscription.clone()).await);
                    job_owner.push(processed.len());
                }
            }
            processed.push(ProcessedEvent {
                tenant_id: event.tenant_id.clone(),
                event_id: event.id.clone(),
                deliveries: Vec::new(),
            });
        }
        let outcomes = self.run_jobs(jobs, now).await;
        for (deliveries, owner) in outcomes.into_iter().zip(job_owner) {
            processed[owner].deliveries.extend(deliveries);
        }
        self.store.complete_events(&processed).await?;

        // Plugin retries: the same subscription's plugin again; its deliveries replace the failed one.
        for (delivery_id, event) in retries {
            let Some(failed) = self.store.get_delivery(&event.tenant_id, &delivery_id).await? else {
                continue;
            };
            let subscription =
                subscriptions[&event.tenant_id].iter().find(|s| s.id == failed.subscription_id).cloned();
            let deliveries = match subscription {
                Some(subscription) => {
                    let job = self.job(Arc::new(event), subscription).await;
                    self.run_jobs(vec![job], now).await.pop().unwrap_or_default()
                }
                // The subscription is gone or disabled: the failure stands.
                None => Vec::new(),
            };
            if !deliveries.is_empty() {
                self.store.replace_plugin_retry(&delivery_id, &deliveries).await?;
            }
        }
        self.wake.deliveries.notify_one();
        Ok(true)
    }

    async fn job(&self, event: Arc<ClaimedEvent>, subscription: Arc<Subscription>) -> Job {
        let reference =
            PluginRef { name: subscription.plugin_name.clone(), version: subscription.plugin_version };
        let plugin = self
            .plugins
            .resolve(&reference)
            .await
            .map(|(version, plugin)| (format!("{}@{version}", reference.name), plugin));
        Job { event, subscription, plugin }
    }

    /// Runs the jobs' plugins on blocking threads (they are CPU-bound), split across the cores, and turns
    /// each outcome into deliveries.
    async fn run_jobs(&self, jobs: Vec<Job>, now: Millis) -> Vec<Vec<NewDelivery>> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(jobs.len());
        let chunk_size = jobs.len().div_ceil(threads);
        let mut chunks = Vec::new();
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<Job> = jobs.by_ref().take(chunk_size).collect();
            let runtime = self.runtime.clone();
            let metrics = self.metrics.clone();
            let (retry_delay, retry_window) = (self.plugin_retry_delay_ms, self.plugin_retry_window_ms);
            chunks.push(tokio::task::spawn_blocking(move || {
                chunk
                    .iter()
                    .map(|job| run_job(&runtime, &metrics, job, now, retry_delay, retry_window))
                    .collect::<Vec<_>>()
            }));
        }
        let mut outcomes = Vec::new();
        for chunk in chunks {
            outcomes.extend(chunk.await.expect("plugin runs do not panic: traps are errors"));
        }
        outcomes
    }
}

fn run_job(
    runtime: &Runtime,
    metrics: &Metrics,
    job: &Job,
    now: Millis,
    retry_delay_ms: i64,
    retry_window_ms: i64,
) -> Vec<NewDelivery> {
    let (event, subscription) = (&job.event, &job.subscription);
    let delivery = |status, plugin: &str, request, error, next_attempt_at| NewDelivery {
        id: crate::ids::new_id("dlv"),
        tenant_id: event.tenant_id.clone(),
        event_id: event.id.clone(),
        subscription_id: subscription.id.clone(),
        plugin: plugin.to_owned(),
        status,
        request,
        error,
        next_attempt_at,
        created_at: now,
    };
    let (label, plugin) = match &job.plugin {
        Ok((label, plugin)) => (label.as_str(), plugin),
        Err(message) => {
            metrics.plugin_run("unavailable", 0.0);
            let retry = (now - event.received_at < retry_window_ms).then_some(now + retry_delay_ms);
            return vec![delivery(
                DeliveryStatus::PluginError,
                &subscription.plugin_name,
                None,
                Some(message.clone()),
                retry,
            )];
        }
    };
    let input = EventInput {
        id: &event.id,
        event_type: &event.event_type,
        tenant: &event.tenant_id,
        timestamp: &event.timestamp,
        data_json: &event.data_json,
    };
    let sub_input = SubscriptionInput {
        id: &subscription.id,
        endpoint_url: &subscription.endpoint_url,
        config_json: &subscription.config_json,
    };
    let invocation = runtime.invoke(plugin, &input, &sub_input);
    for line in &invocation.logs {
        tracing::info!(
            tenant = %event.tenant_id, plugin = label, event = %event.id, subscription = %subscription.id,
            level = ?line.level, "plugin log: {}", line.message
        );
    }
    let seconds = invocation.elapsed.as_secs_f64();
    match invocation.result {
        Ok(requests) if requests.is_empty() => {
            metrics.plugin_run("skipped", seconds);
            vec![delivery(DeliveryStatus::Skipped, label, None, None, None)]
        }
        Ok(requests) => {
            metrics.plugin_run("ok", seconds);
            requests
                .into_iter()
                .map(|request| {
                    let stored = StoredRequest {
                        method: request.method.to_owned(),
                        url: request.url,
                        headers: request.headers,
                        body: request.body.as_bytes().to_vec(),
                    };
                    delivery(DeliveryStatus::Pending, label, Some(stored), None, Some(now))
                })
                .collect()
        }
        Err(error) => {
            metrics.plugin_run(error.kind(), seconds);
            tracing::warn!(tenant = %event.tenant_id, plugin = label, event = %event.id, %error, "plugin failed");
            let retry = (error.is_retryable() && now - event.received_at < retry_window_ms)
                .then_some(now + retry_delay_ms);
            vec![delivery(
                DeliveryStatus::PluginError,
                label,
                None,
                Some(describe(label, &event.id, &error)),
                retry,
            )]
        }
    }
}

/// The error as an operator reads it on the delivery: which plugin, which event, what broke.
fn describe(plugin: &str, event_id: &str, error: &InvokeError) -> String {
    format!("plugin {plugin} failed on event {event_id}: {error}")
}
