//! A rollout's life: started (the subscription pinned to its current version, a canary set), judged by
//! its rules against the live figures, and ended — promoted (pinned to the candidate) or rolled back (the
//! canary removed, and every event whose candidate run did not succeed run again by the current version).

use serde::{Deserialize, Serialize};

use super::canary::{Decision, Rules, VersionFigures, judge};
use crate::store::{HandBack, Requeued, RolloutEnd, RolloutRecord, RolloutState, Store, StoreResult};

/// What a rollout stores beyond its state: what it compares, its rules, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RolloutBody {
    /// The subscription's plugin, whose two versions are compared.
    pub plugin: String,
    pub current_version: u32,
    pub candidate_version: u32,
    /// Of every 100 events, this many run the candidate.
    pub percent: u8,
    pub rules: Rules,
    /// Why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `rules` (the watcher) or `hand` (an API call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// Each version's figures when it ended (current, then candidate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures_at_end: Option<Vec<VersionFigures>>,
    /// Events whose candidate run did not succeed, handed back to the current version after a rollback.
    #[serde(default)]
    pub reruns: u64,
}

impl RolloutBody {
    pub fn current_label(&self) -> String {
        format!("{}@{}", self.plugin, self.current_version)
    }

    pub fn candidate_label(&self) -> String {
        format!("{}@{}", self.plugin, self.candidate_version)
    }

    pub fn decode(record: &RolloutRecord) -> StoreResult<RolloutBody> {
        serde_json::from_str(&record.body_json).map_err(|error| {
            crate::store::StoreError::Database(format!(
                "rollout {} has an unreadable body: {error}",
                record.id
            ))
        })
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a rollout body always encodes")
    }
}

/// Each version's figures since the rollout started: (current, candidate).
pub async fn figures(
    store: &dyn Store,
    record: &RolloutRecord,
    body: &RolloutBody,
) -> StoreResult<(VersionFigures, VersionFigures)> {
    let counts = store.version_counts(&record.subscription_id, record.started_at).await?;
    Ok((
        VersionFigures::of(&body.current_label(), &counts),
        VersionFigures::of(&body.candidate_label(), &counts),
    ))
}

/// How a rollout is to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Promote,
    RollBack,
    /// Its subscription was deleted: nothing to promote, nor to run again.
    Abandon,
}

/// Ends a running rollout (false if it had ended already), recording why, who, and the figures then. A
/// rollback hands the candidate's failures back to the current version at once.
pub async fn conclude(
    store: &dyn Store,
    record: &RolloutRecord,
    ending: Ending,
    reason: String,
    by: &str,
    now: i64,
) -> StoreResult<bool> {
    let mut body = RolloutBody::decode(record)?;
    let (current, candidate) = figures(store, record, &body).await?;
    body.figures_at_end = Some(vec![current, candidate]);
    body.reason = Some(reason);
    body.ended_by = Some(by.to_owned());
    let (state, pin_version) = match ending {
        Ending::Promote => (RolloutState::Promoted, Some(body.candidate_version)),
        Ending::RollBack | Ending::Abandon => (RolloutState::RolledBack, None),
    };
    let encoded = body.encode();
    let end = RolloutEnd {
        state,
        at: now,
        body_json: &encoded,
        pin_version,
        reruns_pending: ending == Ending::RollBack,
    };
    if !store.end_rollout(&record.tenant_id, &record.id, &end).await? {
        return Ok(false);
    }
    tracing::info!(
        tenant = %record.tenant_id, subscription = %record.subscription_id, rollout = %record.id,
        state = state.as_str(), by, reason = body.reason.as_deref().unwrap_or_default(), "rollout ended"
    );
    if ending == Ending::RollBack {
        let ended = RolloutRecord {
            state,
            ended_at: Some(now),
            body_json: encoded,
            reruns_pending: true,
            ..record.clone()
        };
        // The pipeline's lease is not known here: any run in flight counts until the watcher's next pass.
        hand_back_failures(store, &ended, now, i64::MAX).await?;
    }
    Ok(true)
}

/// Judges a running rollout by its rules and ends it if they say so.
pub async fn judge_running(store: &dyn Store, record: &RolloutRecord, now: i64) -> StoreResult<Decision> {
    let body = RolloutBody::decode(record)?;
    if store.get_subscription(&record.tenant_id, &record.subscription_id).await?.is_none() {
        let reason = "the subscription was deleted".to_owned();
        conclude(store, record, Ending::Abandon, reason.clone(), "rules", now).await?;
        return Ok(Decision::RollBack(reason));
    }
    let (current, candidate) = figures(store, record, &body).await?;
    let decision = judge(&body.rules, &current, &candidate);
    match &decision {
        Decision::Wait => {}
        Decision::RollBack(reason) => {
            conclude(store, record, Ending::RollBack, reason.clone(), "rules", now).await?;
        }
        Decision::Promote(reason) => {
            conclude(store, record, Ending::Promote, reason.clone(), "rules", now).await?;
        }
    }
    Ok(decision)
}

/// A rolled-back candidate's failures kept with its rollout, at most.
pub const KEEP_FAILURES: u32 = 50;

/// How long after a rollback's time a run may have been claimed and still have seen the canary: the
/// rollback's figures are read between its time and its commit.
const CLAIM_MARGIN_MS: i64 = 10_000;

/// After a rollback: keeps the candidate's first failures with the rollout, and turns its deliveries that
/// did not succeed into plugin errors due now, which the pipeline runs again with the subscription's
/// (current) version. Deliveries being sent are left to the next pass. The re-runs are done — the rollout
/// needs no more passes, `reruns_pending` turns false — once nothing is left to hand back, every event
/// handed back has run again, and no run claimed before the rollback (its lease of `lease_ms` ending by
/// the rollback plus a margin) can still commit a candidate's delivery.
pub async fn hand_back_failures(
    store: &dyn Store,
    record: &RolloutRecord,
    now: i64,
    lease_ms: i64,
) -> StoreResult<()> {
    let mut body = RolloutBody::decode(record)?;
    let reason = format!(
        "rollout {} of {} was rolled back; this event runs again with {}",
        record.id,
        body.candidate_label(),
        body.current_label()
    );
    let candidate = body.candidate_label();
    let ended_at = record.ended_at.unwrap_or(now);
    let rerun = HandBack {
        rollout_id: &record.id,
        tenant_id: &record.tenant_id,
        subscription_id: &record.subscription_id,
        plugin: &candidate,
        since: record.started_at,
        now,
        reason: &reason,
        keep_failures: KEEP_FAILURES,
        claimed_by_lease_end: ended_at.saturating_add(CLAIM_MARGIN_MS).saturating_add(lease_ms),
    };
    let left = store.requeue_for_rerun(&rerun).await?;
    let mut done = left == Requeued::default();
    // Events handed back to a subscription deleted since are never run again: nothing is pending.
    if !done && left.requeued == 0 && left.leased == 0 && left.in_flight == 0 {
        done = store.get_subscription(&record.tenant_id, &record.subscription_id).await?.is_none();
    }
    if left.requeued > 0 || done {
        body.reruns += left.requeued;
        store.update_rollout(&record.id, &body.encode(), !done).await?;
    }
    Ok(())
}
