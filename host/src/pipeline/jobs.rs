//! One plugin run: an event through a subscription's plugin, on a plugin thread, turned into the
//! deliveries to store — requests to send, a skip, or a plugin error (retried later when transient).

use std::sync::Arc;
use std::time::Duration;

use super::containment::{Containment, Verdict};
use crate::clock::now_millis;
use crate::connections::hosts;
use crate::metrics::Metrics;
use crate::runtime::{
    EventInput, Invocation, InvokeError, OutgoingRequest, Plugin, Runtime, SubscriptionInput,
};
use crate::store::{
    ClaimedEvent, DeliveryStatus, LanePlace, Millis, NewDelivery, StoredRequest, Subscription,
};
use crate::tenancy::Resolved;

/// One plugin run to do.
pub(super) struct Job {
    pub event: Arc<ClaimedEvent>,
    pub subscription: Arc<Subscription>,
    /// The plugin as `name@version` and compiled, or why it could not be had.
    pub plugin: Result<(String, Plugin), String>,
    /// When the event (or plugin retry) was claimed: its lease runs from here.
    pub claimed_at: Millis,
    /// What applies to the tenant: its limits for one invocation.
    pub policy: Arc<Resolved>,
    /// The delivery this run re-runs (its deliveries say so), if it is a re-run.
    pub rerun_of: Option<String>,
}

/// What every run needs, shared by all of them.
pub(super) struct RunContext {
    pub runtime: Arc<Runtime>,
    pub metrics: Arc<Metrics>,
    pub containment: Arc<Containment>,
    pub lease_ms: i64,
    /// Delay before a plugin that failed transiently runs again.
    pub retry_delay_ms: i64,
    /// Stop retrying a transiently failing plugin for an event this long after the event arrived.
    pub retry_window_ms: i64,
}

/// How a run ended.
pub(super) enum Outcome {
    /// The deliveries to store; `pause` is set when this run made the subscription's deadline hits reach
    /// the threshold (the reason to store).
    Done { deliveries: Vec<NewDelivery>, pause: Option<String> },
    /// Not run: it waited so long that the event's lease could run out before the commit. The event is
    /// left to be claimed again.
    Abandoned,
}

impl RunContext {
    /// [`RunContext::run`], in a span of the event's trace while tracing is on.
    pub fn run_traced(&self, job: &Job) -> (Outcome, Duration) {
        let span = crate::telemetry::spans::PluginRunSpan::begin(&job.event);
        let ran = self.run(job);
        if let Outcome::Done { deliveries, .. } = &ran.0 {
            let plugin =
                job.plugin.as_ref().map_or(job.subscription.plugin_name.as_str(), |(l, _)| l.as_str());
            span.end(&job.event, &job.subscription, plugin, deliveries);
        }
        ran
    }

    /// Runs the job (on the calling plugin thread) and returns its outcome and the plugin time it used.
    pub fn run(&self, job: &Job) -> (Outcome, Duration) {
        let now = now_millis();
        if now - job.claimed_at > self.lease_ms / 2 {
            return (Outcome::Abandoned, Duration::ZERO);
        }
        let (event, subscription) = (&job.event, &job.subscription);
        if self.containment.is_paused(&subscription.id) {
            let deliveries = in_lane(job, vec![paused_delivery(job, now)]);
            return (Outcome::Done { deliveries, pause: None }, Duration::ZERO);
        }
        let (label, plugin) = match &job.plugin {
            Ok((label, plugin)) => (label.as_str(), plugin),
            Err(message) => {
                self.metrics.plugin_run("unavailable", 0.0);
                let retry =
                    (now - event.received_at < self.retry_window_ms).then_some(now + self.retry_delay_ms);
                let failed = delivery(job, &subscription.plugin_name, DeliveryStatus::PluginError, now)
                    .error(message.clone(), retry);
                return (
                    Outcome::Done { deliveries: in_lane(job, vec![failed]), pause: None },
                    Duration::ZERO,
                );
            }
        };
        let input = event_input(event);
        let sub_input = SubscriptionInput {
            id: &subscription.id,
            endpoint_url: &subscription.endpoint_url,
            config_json: &subscription.config_json,
        };
        let invocation = self.runtime.invoke_limited(plugin, &input, &sub_input, &job.policy.limits);
        let logs = logs_json(&invocation);
        for line in &invocation.logs {
            tracing::debug!(
                tenant = %event.tenant_id, plugin = label, event = %event.id, subscription = %subscription.id,
                level = ?line.level, "plugin log: {}", line.message
            );
        }
        let seconds = invocation.elapsed.as_secs_f64();
        let timed_out = matches!(invocation.result, Err(InvokeError::Timeout { .. }));
        let pause = match self.containment.record(&subscription.id, timed_out) {
            Verdict::Pause { timeouts } => {
                Some(Containment::reason(timeouts, self.runtime.limits().timeout_ms))
            }
            Verdict::Keep => None,
        };
        let result = invocation.result.and_then(|requests| keep_to_allowed_hosts(requests, subscription));
        let deliveries = match result {
            Ok(requests) if requests.is_empty() => {
                self.metrics.plugin_run("skipped", seconds);
                vec![delivery(job, label, DeliveryStatus::Skipped, now).logs(logs).build()]
            }
            Ok(requests) => {
                self.metrics.plugin_run("ok", seconds);
                requests
                    .into_iter()
                    .map(|request| {
                        let stored = StoredRequest {
                            method: request.method.to_owned(),
                            url: request.url,
                            headers: request.headers,
                            body: request.body.as_bytes().to_vec(),
                        };
                        delivery(job, label, DeliveryStatus::Pending, now)
                            .logs(logs.clone())
                            .request(stored, now)
                    })
                    .collect()
            }
            Err(error) => {
                self.metrics.plugin_run(error.kind(), seconds);
                self.metrics.plugin_failure(label, error.kind());
                tracing::warn!(tenant = %event.tenant_id, plugin = label, event = %event.id, %error, "plugin failed");
                let retry = (error.is_retryable() && now - event.received_at < self.retry_window_ms)
                    .then_some(now + self.retry_delay_ms);
                let message = format!("plugin {label} failed on event {}: {error}", event.id);
                let failed = delivery(job, label, DeliveryStatus::PluginError, now).logs(logs);
                vec![failed.kind(error.kind()).error(message, retry)]
            }
        };
        (Outcome::Done { deliveries: in_lane(job, deliveries), pause }, invocation.elapsed)
    }
}

/// The deliveries of one run, each given its place in the subscription's ordered lane for the event's
/// key (in the order the plugin returned its requests), when the subscription is ordered. A plugin error
/// takes a place too, so that it holds its key while it will run again; a skip has nothing to hold.
fn in_lane(job: &Job, mut deliveries: Vec<NewDelivery>) -> Vec<NewDelivery> {
    if job.subscription.ordering_key.is_none() {
        return deliveries;
    }
    if let Some(place) = crate::delivery::lanes::place(&job.subscription, &job.event, 0) {
        for (index, delivery) in deliveries.iter_mut().enumerate() {
            if delivery.status != DeliveryStatus::Skipped {
                delivery.lane = Some(LanePlace { index: index as u32, ..place.clone() });
            }
        }
    }
    deliveries
}

/// A stored event as a plugin gets it.
pub fn event_input(event: &ClaimedEvent) -> EventInput<'_> {
    EventInput {
        id: &event.id,
        event_type: &event.event_type,
        tenant: &event.tenant_id,
        timestamp: &event.timestamp,
        data_json: &event.data_json,
    }
}

/// The requests, if each goes to a host the subscription allows (all, when it names none); else the
/// error naming the first that does not.
pub fn keep_to_allowed_hosts(
    requests: Vec<OutgoingRequest>,
    subscription: &Subscription,
) -> Result<Vec<OutgoingRequest>, InvokeError> {
    let Some(allowed) = &subscription.allowed_hosts else { return Ok(requests) };
    for request in &requests {
        let host = hosts::host_of(&request.url).unwrap_or_default();
        if !allowed.iter().any(|pattern| hosts::matches(pattern, &host)) {
            return Err(InvokeError::InvalidOutput(format!(
                "a request goes to host `{host}`, which is not among the subscription's allowed_hosts ({}); \
                 add it to allowed_hosts or fix the plugin",
                allowed.join(", ")
            )));
        }
    }
    Ok(requests)
}

/// The delivery that stands for a run not made because the subscription's plugin runs are paused: a
/// plugin error due at once, which the retry claim takes up once the subscription is resumed.
pub(super) fn paused_delivery(job: &Job, now: Millis) -> NewDelivery {
    let message = format!(
        "plugin runs of subscription {} are paused (its `paused_reason` says why); this event runs when it \
         is resumed",
        job.subscription.id
    );
    delivery(job, &job.subscription.plugin_name, DeliveryStatus::PluginError, now).error(message, Some(now))
}

/// A delivery of `job`'s event and subscription, completed by one of [`DeliveryDraft`]'s methods.
fn delivery(job: &Job, plugin: &str, status: DeliveryStatus, now: Millis) -> DeliveryDraft {
    DeliveryDraft(NewDelivery {
        id: crate::ids::new_time_ordered_id("dlv"),
        tenant_id: job.event.tenant_id.clone(),
        event_id: job.event.id.clone(),
        subscription_id: job.subscription.id.clone(),
        plugin: plugin.to_owned(),
        status,
        request: None,
        error: None,
        error_kind: None,
        logs_json: None,
        next_attempt_at: None,
        created_at: now,
        lane: None,
        destination: None,
        test: job.event.is_test(),
        rerun_of: job.rerun_of.clone(),
    })
}

/// What the plugin logged, as stored with its deliveries: `None` when it logged nothing, so that the
/// common case stores (and encodes) nothing.
fn logs_json(invocation: &Invocation) -> Option<String> {
    if invocation.logs.is_empty() && invocation.logs_dropped == 0 {
        return None;
    }
    let logs = crate::runtime::LoggedLines { lines: &invocation.logs, dropped: invocation.logs_dropped };
    serde_json::to_string(&logs).ok()
}

struct DeliveryDraft(NewDelivery);

impl DeliveryDraft {
    fn build(self) -> NewDelivery {
        self.0
    }

    fn request(self, request: StoredRequest, due: Millis) -> NewDelivery {
        let destination = crate::delivery::budgets::destination_of(&self.0.tenant_id, &request.url);
        NewDelivery { request: Some(request), next_attempt_at: Some(due), destination, ..self.0 }
    }

    fn logs(self, logs_json: Option<String>) -> DeliveryDraft {
        DeliveryDraft(NewDelivery { logs_json, ..self.0 })
    }

    fn kind(self, kind: &str) -> DeliveryDraft {
        DeliveryDraft(NewDelivery { error_kind: Some(kind.to_owned()), ..self.0 })
    }

    fn error(self, message: String, retry_at: Option<Millis>) -> NewDelivery {
        NewDelivery { error: Some(message), next_attempt_at: retry_at, ..self.0 }
    }
}
