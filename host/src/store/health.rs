//! How a subscription is doing, as its customer sees it: its recent deliveries and failures, and the
//! changes (started failing, recovered) to tell her about.

use super::Millis;

/// A subscription's recent deliveries (since a time) and its last failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionHealth {
    /// Deliveries made since then (sent, skipped or failed).
    pub deliveries: u64,
    /// Of those, the ones failing now: retrying, dead, or a plugin error.
    pub failed: u64,
    /// The latest one's status is a failure.
    pub latest_failed: bool,
    /// The most recent failure: its error, its kind and when.
    pub last_failure: Option<LastFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFailure {
    pub delivery_id: String,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub at: Millis,
}

/// What [`super::Store::rerun_delivery`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerun {
    /// The re-run is due now, for this event: a placeholder that the pipeline replaces with the new run's
    /// deliveries, which name the old one in `rerun_of`.
    Started {
        event_id: String,
    },
    NotFound,
    /// It was re-run before: re-run the newer delivery instead.
    AlreadyRerun,
    /// Its subscription was deleted: there is no current plugin to run.
    SubscriptionGone,
    /// It is being sent right now.
    InFlight,
}

/// The error a re-run's placeholder shows until the pipeline has run it.
pub fn rerun_placeholder_error() -> &'static str {
    "re-run requested: the subscription's current plugin, config and endpoint run on this event shortly"
}

/// A change in a subscription's failing state to tell its `notify` addresses about, claimed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureChange {
    pub tenant_id: String,
    pub subscription_id: String,
    pub name: Option<String>,
    /// The subscription's `notify`, as stored (JSON).
    pub notify_json: String,
    /// `Some(since)`: it started failing then; `None`: it recovered.
    pub failing_since: Option<Millis>,
}

/// What [`super::Store::begin_idempotent`] found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// First use of the key: the request runs, then [`super::Store::finish_idempotent`] keeps its answer.
    New,
    /// The key answered before: the same status and body again.
    Answered { status: u16, body: String },
    /// The first request with the key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}
