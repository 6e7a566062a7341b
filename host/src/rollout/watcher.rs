//! The rollout watcher: a task on every instance that judges each running rollout by its rules, and hands
//! a rolled-back candidate's failures back to the current version. Every step is a conditional write, so
//! instances watching the same rollouts never end one twice.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::lifecycle::{hand_back_failures, judge_running};
use crate::clock::now_millis;
use crate::store::{RolloutState, Store};

/// How often rollouts are judged.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Watches until `stop`. `lease_ms` is the pipeline's lease: how long a run claimed before a rollback (that
/// may have chosen the candidate) may still commit.
pub async fn run(store: Arc<dyn Store>, lease_ms: i64, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WATCH_INTERVAL) => {}
            _ = stop.cancelled() => return,
        }
        if let Err(error) = watch_once(store.as_ref(), lease_ms).await {
            tracing::warn!(%error, "watching rollouts failed; trying again");
        }
    }
}

/// One pass over every rollout with work left.
pub async fn watch_once(store: &dyn Store, lease_ms: i64) -> crate::store::StoreResult<()> {
    for record in store.rollouts_to_watch().await? {
        let now = now_millis();
        let result = match record.state {
            RolloutState::Running => judge_running(store, &record, now).await.map(drop),
            _ => hand_back_failures(store, &record, now, lease_ms).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, rollout = %record.id, "watching a rollout failed; trying again");
        }
    }
    Ok(())
}
