//! The delivery worker: claims due deliveries, sends each (signed, through the destination guard) within
//! this instance's concurrency bound, and records every attempt with the delivery's next state — retried
//! on the schedule, dead after the last attempt, or the subscription disabled (410 Gone, or failing for too
//! long). Attempts are recorded in batches. Per-endpoint limits (concurrency, rate), ordered lanes and
//! tenant shares are the claim's (see [`super::lanes`]): the store keeps them across every instance; the
//! worker says how large a tenant's share is now, and dead-letters a head that held its key too long.

mod batches;
mod headers;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::headers::request_headers;
use super::budgets::{self, pause};
use super::capacity::{Handed, SendCapacity};
use super::client::{HttpSender, SendOutcome, SendRequest};
use super::lanes::{HoldBound, HoldVerdict};
use super::retry::RetrySchedule;
use super::signing;
use crate::clock::{now_millis, rfc3339};
use crate::connections::{Credentials, Registry};
use crate::metrics::Metrics;
use crate::store::{AttemptRecord, ClaimedDelivery, DeliveryClaim, DeliveryStatus, Millis, Store};
use crate::wake::Wakeups;

pub struct DeliveryWorker {
    pub store: Arc<dyn Store>,
    pub sender: Arc<HttpSender>,
    /// The tenants' connections: the credentials a request carries for its host.
    pub connections: Arc<Registry>,
    pub schedule: RetrySchedule,
    pub metrics: Arc<Metrics>,
    pub wake: Wakeups,
    pub batch_size: u32,
    pub lease_ms: i64,
    pub poll_interval: Duration,
    /// This instance's send slots and tenant shares, and the deliveries commits hand over into them.
    pub capacity: Arc<SendCapacity>,
    /// Deliveries in flight to one subscription's endpoint across all instances, unless it sets its own.
    pub max_in_flight_per_endpoint: u32,
    /// A subscription whose endpoint has failed without a success for this long is disabled.
    pub disable_after_failing_ms: i64,
    /// How long a failing head may hold its ordering key, when its subscription does not say.
    pub ordering_max_hold_secs: u32,
    /// Merges what waits on a destination's budget with the plugin that made it; `None`: never merge.
    pub merger: Option<Arc<budgets::batch::Merger>>,
}

/// Everything one send task needs, shared.
struct Shared {
    worker: Arc<DeliveryWorker>,
    records: mpsc::Sender<AttemptRecord>,
    /// Sends finished since the last claim.
    finished_since_claim: AtomicUsize,
}

/// After this many sends have finished, their slots are worth a claim (fewer wait for the recorder's
/// wake-up, or the poll).
const CLAIM_AFTER_SENDS: usize = 16;

impl DeliveryWorker {
    /// Sends due deliveries until `shutdown`; then finishes the sends in flight and records them.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let (records, receiver) = mpsc::channel(4096);
        let recorder = tokio::spawn(record_attempts(
            self.store.clone(),
            receiver,
            self.capacity.clone(),
            self.wake.clone(),
        ));
        let shared =
            Arc::new(Shared { worker: self.clone(), records, finished_since_claim: AtomicUsize::new(0) });
        let in_flight = self.capacity.slots().clone();
        let arrivals = self
            .capacity
            .take_arrivals()
            .map(|arrivals| tokio::spawn(send_handed(shared.clone(), arrivals, shutdown.clone())));
        while !shutdown.is_cancelled() {
            let room = in_flight.available_permits().min(self.batch_size as usize) as u32;
            let now = now_millis();
            shared.finished_since_claim.store(0, Ordering::Relaxed);
            let claimed = if room == 0 {
                Ok(Vec::new())
            } else {
                let sent = self.capacity.sent_still_ours(now);
                let merging = self.merger.as_ref().map(|merger| merger.merging()).unwrap_or_default();
                self.store
                    .claim_deliveries(DeliveryClaim {
                        limit: room,
                        lease_ms: self.lease_ms,
                        now,
                        default_max_in_flight: self.max_in_flight_per_endpoint,
                        sent: &sent,
                        max_in_flight_per_tenant: self.capacity.shares.per_tenant(),
                        merging_plugins: &merging,
                        default_budget: budgets::known::default_budget,
                    })
                    .await
            };
            let claimed = match claimed {
                Ok(claimed) => {
                    if room > 0 {
                        self.capacity.claimed(claimed.len());
                    }
                    claimed
                }
                Err(error) => {
                    tracing::error!(%error, "claiming deliveries failed; retrying");
                    Vec::new()
                }
            };
            // Fewer than it had room for: the queue is drained, or what is left waits for a full endpoint
            // or a rate limit. Claiming again at once would find nothing, the hard way (walking what
            // waits); wait for new deliveries, freed slots (sends finished, attempts recorded) or the poll.
            // (No room at all: wait for sends to finish.)
            let wait = claimed.len() < room as usize || room == 0;
            for batch in batches(claimed) {
                self.spawn_send(&shared, &in_flight, batch, now).await;
            }
            if wait {
                tokio::select! {
                    _ = self.wake.deliveries.notified() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        // Take no more handed deliveries (those not taken keep their leases, and are claimed again when
        // they run out); finish what is in flight (each send is bounded by the delivery timeout), then
        // flush the records.
        if let Some(arrivals) = arrivals {
            let _ = arrivals.await;
        }
        let _ = in_flight.acquire_many(self.capacity.max_in_flight() as u32).await;
        drop(shared);
        let _ = recorder.await;
    }

    /// Sends a delivery (or a batch of them, merged) claimed at `claimed_at` in a task of its own, holding
    /// an in-flight permit for each.
    async fn spawn_send(
        &self,
        shared: &Arc<Shared>,
        in_flight: &Arc<Semaphore>,
        batch: Vec<ClaimedDelivery>,
        claimed_at: Millis,
    ) {
        let permits = batch.len().min(self.capacity.max_in_flight()) as u32;
        let permit =
            in_flight.clone().acquire_many_owned(permits).await.expect("the semaphore is never closed");
        start_send(shared, permit, batch, claimed_at);
    }
}

/// Sends the deliveries commits hand over (see `capacity`), each with the slot reserved for it, until
/// `shutdown`; what is left in the channel then is dropped, slots and all.
async fn send_handed(
    shared: Arc<Shared>,
    mut arrivals: mpsc::UnboundedReceiver<Handed>,
    shutdown: CancellationToken,
) {
    loop {
        let handed = tokio::select! {
            handed = arrivals.recv() => handed,
            _ = shutdown.cancelled() => None,
        };
        let Some(Handed { deliveries, mut slots, leased_at }) = handed else { return };
        shared.worker.metrics.deliveries_handed(deliveries.len());
        for delivery in deliveries {
            let slot = match slots.num_permits() {
                1 => None,
                _ => slots.split(1),
            };
            match slot {
                Some(slot) => start_send(&shared, slot, vec![delivery], leased_at),
                None => {
                    start_send(&shared, slots, vec![delivery], leased_at);
                    break;
                }
            }
        }
    }
}

/// Sends a delivery (or a batch of them, merged) leased at `claimed_at` in a task of its own, holding the
/// in-flight `permit` until it is done.
fn start_send(
    shared: &Arc<Shared>,
    permit: OwnedSemaphorePermit,
    mut batch: Vec<ClaimedDelivery>,
    claimed_at: Millis,
) {
    // The store leased them until exactly this.
    let leased_until = claimed_at.saturating_add(shared.worker.lease_ms);
    let shared = shared.clone();
    let tenant = batch[0].tenant_id.clone();
    for _ in 0..batch.len() {
        shared.worker.capacity.shares.start(&tenant);
    }
    tokio::spawn(async move {
        let sends = batch.len();
        match batch.len() {
            1 => {
                let log_scope = crate::telemetry::spans::log_scope(&tenant, &batch[0].event_id);
                shared.deliver(batch.remove(0), leased_until).instrument(log_scope).await
            }
            _ => shared.deliver_batch(batch, leased_until).await,
        }
        for _ in 0..sends {
            shared.worker.capacity.shares.finish(&tenant);
        }
        drop(permit);
    });
}

/// The claimed deliveries as they go out: one by one, or a batch's together (in claim order).
fn batches(claimed: Vec<ClaimedDelivery>) -> Vec<Vec<ClaimedDelivery>> {
    let mut batches: Vec<Vec<ClaimedDelivery>> = Vec::with_capacity(claimed.len());
    let mut leaders: HashMap<String, usize> = HashMap::new();
    for delivery in claimed {
        match delivery.batch_leader.clone() {
            Some(leader) => match leaders.get(&leader) {
                Some(&at) => batches[at].push(delivery),
                None => {
                    leaders.insert(leader, batches.len());
                    batches.push(vec![delivery]);
                }
            },
            None => batches.push(vec![delivery]),
        }
    }
    batches
}

impl Shared {
    async fn deliver(&self, delivery: ClaimedDelivery, leased_until: Millis) {
        let worker = &self.worker;
        let span = crate::telemetry::spans::AttemptSpan::begin();
        let outcome = match self.credentials(&delivery).await {
            Err(message) => failed_before_sending(message),
            Ok(credentials) => {
                let mut outcome = self.send(&delivery, &credentials).await;
                // A token the provider has revoked early, or that expired in flight: one refresh, one more try.
                if outcome.status == Some(401) && credentials.refreshable() {
                    worker.connections.invalidate(&credentials);
                    outcome = match self.credentials(&delivery).await {
                        Ok(fresh) => {
                            let outcome = self.send(&delivery, &fresh).await;
                            redacted(outcome, &fresh)
                        }
                        Err(message) => failed_before_sending(message),
                    };
                }
                redacted(outcome, &credentials)
            }
        };
        let record = self.judge(&delivery, outcome).await;
        span.end(&delivery, &record);
        worker.metrics.attempt(record.new_status.as_str(), record.latency_ms as f64 / 1000.0);
        if let (Some(destination), Some(merger)) = (&delivery.destination, &worker.merger) {
            worker.metrics.destination_request(budgets::host_of_destination(destination), 1);
            // Whether its plugin merges decides how the next claims lease what waits on a budget.
            merger.learn(&delivery.plugin).await;
        }
        self.finished(record, leased_until).await;
    }

    /// Hands a finished send's record to the recorder.
    async fn finished(&self, record: AttemptRecord, leased_until: Millis) {
        // Its endpoint has a free slot now, before the attempt is recorded.
        let sent = &self.worker.capacity.sent;
        sent.lock().expect("sent set lock").insert(record.delivery_id.clone(), leased_until);
        if self.finished_since_claim.fetch_add(1, Ordering::Relaxed) + 1 == CLAIM_AFTER_SENDS
            && self.worker.capacity.claim_may_find_more()
        {
            self.worker.wake.deliveries.notify_one();
        }
        let _ = self.records.send(record).await;
    }

    /// The credentials the delivery's request carries (none, at no cost, for a subscription without
    /// connections).
    async fn credentials(&self, delivery: &ClaimedDelivery) -> Result<Credentials, String> {
        if delivery.connections.is_empty() {
            return Ok(Credentials::default());
        }
        self.worker
            .connections
            .credentials(&delivery.tenant_id, &delivery.connections, &delivery.request.url)
            .await
    }

    /// Signs and sends the delivery once.
    async fn send(&self, delivery: &ClaimedDelivery, credentials: &Credentials) -> SendOutcome {
        let timestamp = now_millis() / 1000;
        match signing::sign(&delivery.secrets, &delivery.id, timestamp, &delivery.request.body) {
            Ok(signature) => {
                let headers = request_headers(delivery, &credentials.headers, timestamp, signature);
                let request = &delivery.request;
                self.worker
                    .sender
                    .send(SendRequest {
                        method: &request.method,
                        url: &request.url,
                        headers: &headers,
                        body: &request.body,
                    })
                    .await
            }
            Err(error) => failed_before_sending(format!("cannot sign: {error}")),
        }
    }

    /// The delivery's next state after this attempt.
    async fn judge(&self, delivery: &ClaimedDelivery, outcome: SendOutcome) -> AttemptRecord {
        let worker = &self.worker;
        let now = now_millis();
        if let Some(record) = self.paced(delivery, &outcome, now).await {
            return record;
        }
        let attempts_made = delivery.attempts + 1;
        let mut disable = None;
        let mut delivery_error = None;
        let (status, next) = if outcome.is_success() {
            (DeliveryStatus::Succeeded, None)
        } else if outcome.status == Some(410) {
            disable = Some("the endpoint answered 410 Gone".to_owned());
            (DeliveryStatus::Dead, None)
        } else {
            if let Ok(Some(since)) = worker.store.failing_since(&delivery.subscription_id).await
                && now - since > worker.disable_after_failing_ms
            {
                disable = Some(format!("the endpoint has failed without a success since {}", rfc3339(since)));
            }
            let scheduled = worker
                .schedule
                .delay_after(attempts_made, outcome.retry_after)
                .map(|d| now + d.as_millis() as Millis);
            match &delivery.ordering_key {
                None => match scheduled {
                    Some(at) => (DeliveryStatus::Failed, Some(at)),
                    None => (DeliveryStatus::Dead, None),
                },
                // A head: its key waits on it, so it is retried within the hold bound, then released.
                Some(key) => {
                    let bound = HoldBound::from_secs(
                        delivery.ordering_max_hold_secs.unwrap_or(worker.ordering_max_hold_secs),
                    );
                    let first = delivery.first_attempt_at.unwrap_or(now);
                    match bound.judge(first, now, scheduled) {
                        HoldVerdict::RetryAt(at) => (DeliveryStatus::Failed, Some(at)),
                        HoldVerdict::Release => {
                            let why = match scheduled {
                                Some(_) => format!(
                                    "held its ordering key `{key}` for {} s, the subscription's bound \
                                     (ordering_max_hold_secs)",
                                    bound.max_hold_ms / 1000
                                ),
                                None => format!(
                                    "failed its last scheduled attempt while holding ordering key `{key}`"
                                ),
                            };
                            delivery_error = Some(format!(
                                "dead: {why}; the key's next deliveries went on without it (a retry by hand sends \
                                 it on its own)"
                            ));
                            (DeliveryStatus::Dead, None)
                        }
                    }
                }
            }
        };
        // What went wrong, in words, on the delivery itself (its attempts keep the details).
        if status != DeliveryStatus::Succeeded && delivery_error.is_none() {
            delivery_error = Some(failure_in_words(&outcome));
        }
        AttemptRecord {
            delivery_id: delivery.id.clone(),
            subscription_id: delivery.subscription_id.clone(),
            at: now,
            status_code: outcome.status,
            latency_ms: outcome.latency.as_millis() as u64,
            response_excerpt: outcome.response_excerpt,
            error: outcome.error,
            new_status: status,
            next_attempt_at: next,
            disable_subscription: disable,
            delivery_error,
            paced: false,
            batch_id: None,
            batch_limit: None,
        }
    }
}

impl Shared {
    /// When the destination asked to slow down (see [`pause`]): the destination paused, and the attempt
    /// recorded as paced — due again when the pause ends, not counted against the delivery.
    async fn paced(
        &self,
        delivery: &ClaimedDelivery,
        outcome: &SendOutcome,
        now: Millis,
    ) -> Option<AttemptRecord> {
        let destination = delivery.destination.as_deref()?;
        let store = &self.worker.store;
        let last = match (outcome.status, outcome.retry_after) {
            (Some(429), None) => store.destination_backoff(destination).await.ok().flatten(),
            _ => None,
        };
        let pause = pause::asked(outcome.status, outcome.retry_after, now, last)?;
        if let Err(error) =
            store.pause_destination(destination, pause.until, &pause.reason, pause.backoff_ms).await
        {
            tracing::error!(%error, destination, "pausing a destination failed");
        }
        self.worker.metrics.destination_paused(budgets::host_of_destination(destination));
        tracing::info!(destination, until = %rfc3339(pause.until), reason = %pause.reason, "destination paused");
        let why =
            format!("paced, not a failed attempt: {}; due again at {}", pause.reason, rfc3339(pause.until));
        Some(paced_record(delivery, outcome, now, why, pause.until))
    }
}

/// An attempt that was not one of the delivery's own (the destination asked to slow down, or refused its
/// batch as a whole): recorded with `why`, due again at `due`, its status and attempt count kept.
pub(super) fn paced_record(
    delivery: &ClaimedDelivery,
    outcome: &SendOutcome,
    now: Millis,
    why: String,
    due: Millis,
) -> AttemptRecord {
    AttemptRecord {
        delivery_id: delivery.id.clone(),
        subscription_id: delivery.subscription_id.clone(),
        at: now,
        status_code: outcome.status,
        latency_ms: outcome.latency.as_millis() as u64,
        response_excerpt: outcome.response_excerpt.clone(),
        error: Some(why),
        new_status: if delivery.attempts == 0 { DeliveryStatus::Pending } else { DeliveryStatus::Failed },
        next_attempt_at: Some(due),
        disable_subscription: None,
        delivery_error: None,
        paced: true,
        batch_id: None,
        batch_limit: None,
    }
}

/// An attempt that failed before anything was sent (a credential that could not be had, a signature).
fn failed_before_sending(message: String) -> SendOutcome {
    SendOutcome {
        status: None,
        latency: Duration::ZERO,
        response_excerpt: String::new(),
        retry_after: None,
        error: Some(message),
    }
}

/// The outcome with nothing recorded of an answer to a credentialed request, and any credential in the
/// error taken out.
fn redacted(mut outcome: SendOutcome, credentials: &Credentials) -> SendOutcome {
    if !credentials.headers.is_empty() {
        outcome.response_excerpt = credentials.answer_excerpt(&outcome.response_excerpt);
        outcome.error = outcome.error.map(|error| credentials.redact(&error));
    }
    outcome
}

/// Writes attempt records in batches: whatever has queued up goes in one transaction.
async fn record_attempts(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<AttemptRecord>,
    capacity: Arc<SendCapacity>,
    wake: Wakeups,
) {
    let mut batch = Vec::with_capacity(512);
    while receiver.recv_many(&mut batch, 512).await > 0 {
        let mut delay = Duration::from_millis(50);
        // A record that cannot be written keeps its lease until it expires and the delivery is retried,
        // so keep trying for a while rather than dropping it.
        for _ in 0..10 {
            match store.record_attempts(&batch).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::error!(%error, records = batch.len(), "recording attempts failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        // Recorded (or, if that kept failing, left to their leases running out): no longer ours.
        let mut sent = capacity.sent.lock().expect("sent set lock");
        for record in batch.drain(..) {
            sent.remove(&record.delivery_id);
        }
        drop(sent);
        // Slots have freed up since the last claim (at least these): claim again, if it may find some.
        if capacity.claim_may_find_more() {
            wake.deliveries.notify_one();
        }
    }
}

/// A failed attempt as a customer reads it: what the endpoint answered, or why it could not be reached.
fn failure_in_words(outcome: &SendOutcome) -> String {
    match outcome.status {
        Some(code) => {
            let reason =
                http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
            format!("the endpoint answered {code} {reason}").trim_end().to_owned()
        }
        None => outcome.error.clone().unwrap_or_else(|| "the endpoint could not be reached".to_owned()),
    }
}
