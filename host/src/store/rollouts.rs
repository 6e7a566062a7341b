//! What the store keeps of rollouts and dry runs: a subscription's canary, a rollout's row (its state as
//! columns the store queries, the rest as JSON that [`crate::rollout`] owns), a dry run's row, and the
//! counts a rollout is judged on.

use serde::{Deserialize, Serialize};

use super::{DeliveryStatus, Millis};

/// A share of a subscription's events run by a candidate version of its plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Canary {
    /// The rollout it belongs to.
    pub rollout_id: String,
    /// The candidate version of the subscription's plugin.
    pub version: u32,
    /// Of every 100 events, this many (chosen by event id) run the candidate.
    pub percent: u8,
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    Running,
    /// The candidate became the subscription's version.
    Promoted,
    /// The candidate was taken off; its failures are run again by the version it was tried against.
    RolledBack,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Promoted => "promoted",
            RolloutState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<RolloutState> {
        Some(match text {
            "running" => RolloutState::Running,
            "promoted" => RolloutState::Promoted,
            "rolled_back" => RolloutState::RolledBack,
            _ => return None,
        })
    }
}

/// A rollout as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRecord {
    pub id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub state: RolloutState,
    /// Rolled back, and some of the candidate's failures are still to be run again.
    pub reruns_pending: bool,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
    /// The rest (versions, rules, the reason it ended, the figures then), as `crate::rollout` writes it.
    pub body_json: String,
}

/// How a running rollout ends.
#[derive(Debug, Clone, Copy)]
pub struct RolloutEnd<'a> {
    pub state: RolloutState,
    pub at: Millis,
    pub body_json: &'a str,
    /// Pin the subscription to this version (the candidate, on promotion).
    pub pin_version: Option<u32>,
    pub reruns_pending: bool,
}

/// How many events a plugin version made deliveries of one status for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCount {
    /// The version that ran, as deliveries name it (`acme/crm@3`).
    pub plugin: String,
    pub status: DeliveryStatus,
    pub events: u64,
}

/// What [`super::Store::requeue_for_rerun`] is to hand back to the current version, and what to keep.
#[derive(Debug, Clone, Copy)]
pub struct HandBack<'a> {
    pub rollout_id: &'a str,
    pub tenant_id: &'a str,
    pub subscription_id: &'a str,
    /// The candidate, as its deliveries name it (`acme/crm@3`).
    pub plugin: &'a str,
    /// The rollout's start: deliveries made since.
    pub since: Millis,
    pub now: Millis,
    /// The error the handed-back deliveries carry until they run again.
    pub reason: &'a str,
    /// Keep the candidate's failures with the rollout, this many at most in all.
    pub keep_failures: u32,
    /// Runs whose lease ends at or before this were claimed before the rollback, so may still commit the
    /// candidate's deliveries while their lease holds.
    pub claimed_by_lease_end: Millis,
}

/// What [`super::Store::requeue_for_rerun`] did, and what is left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Turned into plugin errors due now.
    pub requeued: u64,
    /// Left for now: being sent (leased).
    pub leased: u64,
    /// Handed back before and not yet run again by the current version.
    pub awaiting: u64,
    /// Runs claimed before the rollback (the tenant's events, the subscription's plugin retries) still
    /// leased: they may yet commit a candidate's delivery. Counted only when the others are all 0.
    pub in_flight: u64,
}

/// One of a rolled-back candidate's failures, kept with its rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFailure {
    pub delivery_id: String,
    pub event_id: String,
    /// `plugin_error`, `failed` or `dead` when it was handed back.
    pub status: DeliveryStatus,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    /// The plugin's log lines, as deliveries keep them (JSON).
    pub logs_json: Option<String>,
    /// When the candidate ran.
    pub created_at: Millis,
}

/// A dry run as stored: its state as a column, the rest as JSON that `crate::rollout` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunRecord {
    pub id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub body_json: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}
