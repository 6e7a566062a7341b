//! Sending a batch: deliveries of one subscription that waited on their destination's budget, merged by
//! their plugin into fewer requests (see `budgets::batch`). Each merged request is signed and sent once,
//! and its outcome recorded for every delivery it carried, with the batch's id.

use std::sync::Arc;

use super::{Shared, failed_before_sending, paced_record, redacted};
use crate::clock::now_millis;
use crate::delivery::budgets::{self, batch};
use crate::store::{AttemptRecord, ClaimedDelivery, Millis};

impl Shared {
    /// Merges and sends `members` (a claimed batch, in order).
    pub(super) async fn deliver_batch(self: &Arc<Self>, members: Vec<ClaimedDelivery>, leased_until: Millis) {
        let worker = &self.worker;
        let merged = match &worker.merger {
            Some(merger) => merger.merge(&members).await,
            None => Err("merging is not set up".to_owned()),
        };
        let sends = match merged {
            Ok(sends) => sends,
            Err(message) => {
                // Sent one at a time, as if the plugin did not merge: the first now, the others on the next slots.
                tracing::warn!(plugin = %members[0].plugin, %message, "a batch could not be merged; sending one");
                let others: Vec<String> = members[1..].iter().map(|d| d.id.clone()).collect();
                if let Err(error) = worker.store.release_deliveries(&others, now_millis()).await {
                    tracing::error!(%error, "giving back a batch's deliveries failed; their leases will run out");
                }
                let mut members = members;
                members.truncate(1);
                let carries = vec![0];
                let request = members[0].request.clone();
                self.send_merged(&members, request, &carries, leased_until).await;
                return;
            }
        };
        // One slot, one request: the first merged request goes now; what the others carry waits for the
        // next slots (and is merged again then).
        let mut sends = sends.into_iter();
        let Some((request, carries)) = sends.next() else { return };
        let later: Vec<String> = sends
            .flat_map(|(_, carries)| carries)
            .filter_map(|index| members.get(index))
            .map(|d| d.id.clone())
            .collect();
        if !later.is_empty()
            && let Err(error) = worker.store.release_deliveries(&later, now_millis()).await
        {
            tracing::error!(%error, "giving back a batch's deliveries failed; their leases will run out");
        }
        self.send_merged(&members, request, &carries, leased_until).await;
    }

    /// Sends one merged request carrying `members[carries]` and records the outcome for each of them.
    async fn send_merged(
        &self,
        members: &[ClaimedDelivery],
        request: crate::store::StoredRequest,
        carries: &[usize],
        leased_until: Millis,
    ) {
        let worker = &self.worker;
        let carried: Vec<&ClaimedDelivery> = carries.iter().filter_map(|&index| members.get(index)).collect();
        let Some(first) = carried.first() else { return };
        // Alone, it is itself; several go out under the batch's id, signed with their subscription's secret.
        let batch_id = (carried.len() > 1).then(batch::new_batch_id);
        let mut carrier = (*first).clone();
        carrier.request = request;
        if let Some(id) = &batch_id {
            carrier.id = id.clone();
        }
        let outcome = match self.credentials(&carrier).await {
            Err(message) => failed_before_sending(message),
            Ok(credentials) => {
                let outcome = self.send(&carrier, &credentials).await;
                redacted(outcome, &credentials)
            }
        };
        if let Some(destination) = &first.destination {
            worker.metrics.destination_request(budgets::host_of_destination(destination), carried.len());
        }
        let now = now_millis();
        let split = batch::refused_as_a_whole(outcome.status, carried.len());
        for delivery in carried {
            let mut record = if split {
                let limit = batch::split_limit(carries.len());
                let why = format!(
                    "not a failed attempt: the destination refused a batch of {} as a whole; sent again in \
                     batches of at most {limit}, so that a bad one fails alone",
                    carries.len()
                );
                AttemptRecord { batch_limit: Some(limit), ..paced_record(delivery, &outcome, now, why, now) }
            } else {
                self.judge(delivery, outcome.clone()).await
            };
            record.batch_id = batch_id.clone();
            worker.metrics.attempt(record.new_status.as_str(), record.latency_ms as f64 / 1000.0);
            self.finished(record, leased_until).await;
        }
    }
}
