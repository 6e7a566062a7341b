//! Committing finished work: each event is committed (its deliveries stored, itself marked processed) as
//! soon as all its plugin runs have ended, together with whatever else finished meanwhile — one
//! transaction per group, so no event waits for a slow run of another. Also the count of claimed work in
//! flight, per tenant, that decides how much more to claim and whose events to leave in the store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::Pipeline;
use crate::clock::now_millis;
use crate::store::{HandOffTerms, NewDelivery, ProcessedEvent};

/// Longest a finished item waits for others to share its commit, under load.
const LINGER: Duration = Duration::from_millis(3);
/// Fast runs queued or running from which the committer waits for them (a quarter of a batch at most).
const LINGER_WHEN_PENDING: usize = 8;

/// Finished work of one claimed item, sent to the committer.
pub(super) enum Finished {
    Event(ProcessedEvent),
    /// A plugin retry's new deliveries, replacing the failed one (by id).
    Retry {
        tenant_id: String,
        delivery_id: String,
        deliveries: Vec<NewDelivery>,
    },
    /// A claimed item not run (its lease would have run out): nothing to store, only to count as done.
    Abandoned {
        tenant_id: String,
    },
}

impl Finished {
    fn tenant(&self) -> &str {
        match self {
            Finished::Event(event) => &event.tenant_id,
            Finished::Retry { tenant_id, .. } | Finished::Abandoned { tenant_id } => tenant_id,
        }
    }
}

/// Claimed items (events and plugin retries) not yet committed, in total and per tenant.
#[derive(Default)]
pub(super) struct InFlight {
    counts: Mutex<Counts>,
    /// Signalled when items are committed: the claim loop may have room again.
    pub freed: Notify,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_tenant: HashMap<String, usize>,
}

impl Counts {
    /// One more item of `tenant`'s (its name is copied only for its first).
    fn count_in(&mut self, tenant: &str) {
        self.total += 1;
        match self.per_tenant.get_mut(tenant) {
            Some(count) => *count += 1,
            None => {
                self.per_tenant.insert(tenant.to_owned(), 1);
            }
        }
    }
}

impl InFlight {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one of `tenant`'s items if there is room for it: fewer than `max` in all and than
    /// `max_per_tenant` of the tenant's.
    pub fn try_add(&self, tenant: &str, max: usize, max_per_tenant: usize) -> bool {
        let mut counts = self.counts();
        let of_tenant = counts.per_tenant.get(tenant).copied().unwrap_or(0);
        if counts.total >= max || of_tenant >= max_per_tenant {
            return false;
        }
        counts.count_in(tenant);
        true
    }

    pub fn add(&self, tenant: &str) {
        self.counts().count_in(tenant);
    }

    pub fn release<'a>(&self, tenants: impl Iterator<Item = &'a str>) {
        let mut counts = self.counts();
        for tenant in tenants {
            counts.total -= 1;
            if let Some(count) = counts.per_tenant.get_mut(tenant) {
                *count -= 1;
                if *count == 0 {
                    counts.per_tenant.remove(tenant);
                }
            }
        }
        drop(counts);
        self.freed.notify_one();
    }

    pub fn total(&self) -> usize {
        self.counts().total
    }

    /// Tenants with work in flight, and how many items each.
    pub fn tenants(&self) -> Vec<(String, usize)> {
        self.counts().per_tenant.iter().map(|(tenant, count)| (tenant.clone(), *count)).collect()
    }
}

/// Commits finished work until every sender is gone, a group at a time.
pub(super) async fn run(pipeline: std::sync::Arc<Pipeline>, mut finished: mpsc::UnboundedReceiver<Finished>) {
    let max_group = pipeline.settings.batch_size as usize;
    let mut group = Vec::with_capacity(max_group);
    while finished.recv_many(&mut group, max_group).await > 0 {
        // Under load (many fast runs about to end), waiting a moment lets one transaction commit many
        // events instead of a handful, and the delivery worker claim them together. Otherwise — little
        // load, or only slow runs (another tenant's) in flight — what has finished commits at once.
        let linger_until = tokio::time::Instant::now() + LINGER;
        while group.len() < max_group / 4 && pipeline.executor.pending_fast() >= LINGER_WHEN_PENDING {
            match tokio::time::timeout_at(linger_until, finished.recv()).await {
                Ok(Some(item)) => group.push(item),
                _ => break,
            }
        }
        pipeline.metrics.pipeline_commit(group.len());
        let tenants: Vec<String> = group.iter().map(|item| item.tenant().to_owned()).collect();
        commit(&pipeline, std::mem::take(&mut group)).await;
        pipeline.in_flight.release(tenants.iter().map(String::as_str));
        pipeline.metrics.set_plugin_runs_waiting(pipeline.executor.waiting());
    }
}

/// Stores one group. A failed commit leaves the events leased: they are claimed and run again once their
/// lease runs out, so nothing is lost (the error is logged).
async fn commit(pipeline: &Pipeline, group: Vec<Finished>) {
    let mut events = Vec::with_capacity(group.len());
    let mut retries = Vec::new();
    for finished in group {
        match finished {
            Finished::Event(event) => events.push(event),
            Finished::Retry { delivery_id, deliveries, .. } => retries.push((delivery_id, deliveries)),
            Finished::Abandoned { .. } => {}
        }
    }
    let mut stored_any = false;
    if !events.is_empty() {
        // Deliveries to send now go straight to the delivery worker when it has room (see
        // `delivery::capacity`); only those the store leaves unleased need its claim.
        let sendable =
            events.iter().flat_map(|event| &event.deliveries).filter(|d| d.request.is_some()).count();
        let reservation = pipeline.deliveries.reserve(sendable, now_millis());
        let terms = match &reservation {
            Some(reservation) => reservation.terms.clone(),
            None => HandOffTerms::none(now_millis()),
        };
        let count = events.len();
        match pipeline.store.complete_events_handing_off(events, terms).await {
            Ok(handed) => {
                stored_any = handed.len() < sendable;
                pipeline.deliveries.left_for_claim(sendable - handed.len());
                if let Some(reservation) = reservation {
                    pipeline.deliveries.hand(reservation, handed);
                }
            }
            Err(error) => {
                tracing::error!(%error, events = count, "committing processed events failed")
            }
        }
    }
    for (delivery_id, deliveries) in retries {
        match pipeline.store.replace_plugin_retry(&delivery_id, &deliveries).await {
            Ok(()) => stored_any = true,
            Err(error) => tracing::error!(%error, delivery = %delivery_id, "storing a plugin retry failed"),
        }
    }
    if stored_any {
        pipeline.wake.deliveries.notify_one();
    }
}
