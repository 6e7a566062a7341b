//! Events handed from this instance's ingest to its pipeline in memory. When the pipeline has room for an
//! event (in total and in its tenant's share, as a claim would judge), the ingest stores it already leased
//! to this instance and, once committed, hands it over: no claim reads it back from the store, and it runs
//! at once instead of at the pipeline's next claim. The store stays the truth — if this instance dies, the
//! lease runs out and any instance claims the event — and an event with no room is stored unleased, for any
//! claim, as before.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::commit::InFlight;
use crate::executor::PluginExecutor;
use crate::store::{ClaimedEvent, Millis};

/// An event handed over, and when its lease began (as a claim's time).
pub(super) type Handed = (ClaimedEvent, Millis);

/// The ingest's side of the handoff: reserves the pipeline's room and hands committed events over.
#[derive(Clone)]
pub struct Handoff {
    room: Arc<InFlight>,
    executor: Arc<PluginExecutor>,
    sender: mpsc::UnboundedSender<Handed>,
    max_in_flight: usize,
    max_in_flight_per_tenant: usize,
    max_tenant_backlog: Duration,
    lease_ms: i64,
}

impl Handoff {
    pub(super) fn new(
        room: Arc<InFlight>,
        executor: Arc<PluginExecutor>,
        settings: &super::PipelineSettings,
    ) -> (Handoff, mpsc::UnboundedReceiver<Handed>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let handoff = Handoff {
            room,
            executor,
            sender,
            max_in_flight: settings.max_in_flight,
            max_in_flight_per_tenant: settings.max_in_flight_per_tenant,
            max_tenant_backlog: settings.max_tenant_backlog,
            lease_ms: settings.lease_ms,
        };
        (handoff, receiver)
    }

    /// Until when an event reserved at `now` is leased.
    pub fn lease_until(&self, now: Millis) -> Millis {
        now.saturating_add(self.lease_ms)
    }

    /// Takes room in the pipeline for one of `tenant`'s events, if it has some — not while the tenant is at
    /// its share of the room or of queued plugin time (its events then wait in the store, as for a claim).
    /// Each reservation ends in [`Handoff::hand`] or [`Handoff::cancel`].
    pub fn reserve(&self, tenant: &str) -> bool {
        self.executor.backlog(tenant) < self.max_tenant_backlog
            && self.room.try_add(tenant, self.max_in_flight, self.max_in_flight_per_tenant)
    }

    /// Hands a reserved event, committed leased from `leased_at`, to the pipeline.
    pub fn hand(&self, event: ClaimedEvent, leased_at: Millis) {
        let tenant = event.tenant_id.clone();
        if self.sender.send((event, leased_at)).is_err() {
            // The pipeline has stopped: the event waits in the store for its lease to run out.
            self.cancel(&tenant);
        }
    }

    /// Gives back a reservation whose event was not stored (a duplicate, an unknown tenant, a failed commit).
    pub fn cancel(&self, tenant: &str) {
        self.room.release(std::iter::once(tenant));
    }
}
