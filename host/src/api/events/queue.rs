//! The ingest queue: events waiting to be committed. A single task takes whatever has queued up, commits
//! it in one transaction and answers each submitter, so many concurrent requests share one disk sync. The
//! events this instance's pipeline has room for are stored leased to it and handed over in memory once
//! committed (see [`Handoff`]).

use axum::http::StatusCode;
use tokio::sync::{mpsc, oneshot};

use crate::api::{ApiError, ApiResult};
use crate::clock::now_millis;
use crate::pipeline::Handoff;
use crate::store::{Inserted, NewEvent, Store, StoreResult};
use crate::wake::Wakeups;

/// Events to commit together (one request's: one event, or a batch's valid ones), and where to answer.
type Submission = (Vec<NewEvent>, oneshot::Sender<StoreResult<Vec<Inserted>>>);

/// The way into the ingest queue; cloned by every request.
#[derive(Clone)]
pub struct IngestQueue {
    sender: mpsc::Sender<Submission>,
}

impl IngestQueue {
    /// Starts the committing task, which commits up to `max_batch` events a transaction (more when one
    /// submission alone is larger: a request's events commit together or not at all); it ends when every
    /// `IngestQueue` clone is dropped.
    pub fn start(
        store: std::sync::Arc<dyn Store>,
        max_batch: usize,
        handoff: Option<Handoff>,
        wake: Wakeups,
    ) -> IngestQueue {
        let (sender, mut receiver) = mpsc::channel::<Submission>(max_batch * 4);
        tokio::spawn(async move {
            let mut submissions = Vec::with_capacity(max_batch);
            let mut events = Vec::with_capacity(max_batch);
            while receiver.recv_many(&mut submissions, max_batch).await > 0 {
                let mut group = Vec::with_capacity(submissions.len());
                for (submitted, reply) in submissions.drain(..) {
                    // A full transaction commits before a submission that would overflow it.
                    if !events.is_empty() && events.len() + submitted.len() > max_batch {
                        commit(&*store, handoff.as_ref(), &wake, &mut events, &mut group).await;
                    }
                    group.push((submitted.len(), reply));
                    events.extend(submitted);
                }
                commit(&*store, handoff.as_ref(), &wake, &mut events, &mut group).await;
            }
        });
        IngestQueue { sender }
    }

    /// Commits one event (with whatever else is queued) and says what became of it.
    pub async fn submit(&self, event: NewEvent) -> ApiResult<Inserted> {
        let mut results = self.submit_all(vec![event]).await?;
        results.pop().ok_or_else(|| ApiError::internal("the ingest queue answered nothing"))
    }

    /// Commits these events in one transaction (with whatever else is queued) and says what became of each,
    /// in order. Once queued they are the committing task's: if the caller stops waiting (its client hung
    /// up), they are committed all the same; a caller dropped before they were queued leaves nothing behind.
    pub async fn submit_all(&self, events: Vec<NewEvent>) -> ApiResult<Vec<Inserted>> {
        let (reply, answer) = oneshot::channel();
        let unavailable = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "Gancho is shutting down; try again",
            )
        };
        self.sender.send((events, reply)).await.map_err(|_| unavailable())?;
        Ok(answer.await.map_err(|_| unavailable())??)
    }
}

/// Commits `events` in one transaction and answers each submission in `waiting` (how many of the events
/// are its, in order) with its own results; both are left empty. Those the pipeline has room for are
/// stored leased to it and handed over once committed; for the others, the pipeline is woken to claim them.
async fn commit(
    store: &dyn Store,
    handoff: Option<&Handoff>,
    wake: &Wakeups,
    events: &mut Vec<NewEvent>,
    waiting: &mut Vec<(usize, oneshot::Sender<StoreResult<Vec<Inserted>>>)>,
) {
    if waiting.is_empty() {
        return;
    }
    let leased_at = now_millis();
    if let Some(handoff) = handoff {
        for event in events.iter_mut() {
            if handoff.reserve(&event.tenant_id) {
                event.lease_until = handoff.lease_until(leased_at);
            }
        }
    }
    let stored = store.insert_events(events).await;
    let mut left_to_claim = false;
    for (index, event) in events.drain(..).enumerate() {
        let new = match stored.as_ref().map(|results| results[index]) {
            Ok(Inserted::New { seq }) => Some(seq),
            _ => None,
        };
        match (handoff, new) {
            (Some(handoff), Some(seq)) if event.lease_until > 0 => {
                handoff.hand(event.into_claimed(seq), leased_at)
            }
            (Some(handoff), None) if event.lease_until > 0 => handoff.cancel(&event.tenant_id),
            (_, new) => left_to_claim |= new.is_some(),
        }
    }
    if left_to_claim {
        wake.events.notify_one();
    }
    match stored {
        Ok(results) => {
            let mut results = results.into_iter();
            for (count, reply) in waiting.drain(..) {
                let _ = reply.send(Ok(results.by_ref().take(count).collect()));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for (_, reply) in waiting.drain(..) {
                let _ = reply.send(Err(crate::store::StoreError::Database(message.clone())));
            }
        }
    }
}
