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
