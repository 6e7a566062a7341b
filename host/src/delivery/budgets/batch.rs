//! Batches: deliveries that waited on one destination's budget, sent as the fewer requests their plugin
//! merged them into. What a batch's answer means for each delivery it carries is decided here: a batch
//! refused as a whole (400, 413, 422: one bad row can do that) is not a failed attempt of its deliveries —
//! they go again at once, in batches half as large, until the bad one is sent alone and fails with the
//! destination's message while the others land.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::executor::PluginExecutor;
use crate::plugins::{PluginCache, PluginRef};
use crate::runtime::{Body, OutgoingRequest, Runtime, SubscriptionInput};
use crate::store::{ClaimedDelivery, Store, StoredRequest};
use crate::tenancy::Policies;

/// One request of a batch: what to send, and the deliveries (by index into the batch) it carries.
pub type MergedSend = (StoredRequest, Vec<usize>);

/// What merging needs: the compiled plugins, and plugin time in the tenant's fair share (a merge is a
/// plugin run like any other).
pub struct Merger {
    pub store: Arc<dyn Store>,
    pub plugins: Arc<PluginCache>,
    pub runtime: Arc<Runtime>,
    pub executor: Arc<PluginExecutor>,
    pub policies: Arc<Policies>,
    /// Plugin versions (`name@version`) seen, and whether each exports `merge`.
    known: Mutex<HashMap<String, bool>>,
}

impl Merger {
    pub fn new(
        store: Arc<dyn Store>,
        plugins: Arc<PluginCache>,
        runtime: Arc<Runtime>,
        executor: Arc<PluginExecutor>,
        policies: Arc<Policies>,
    ) -> Merger {
        Merger { store, plugins, runtime, executor, policies, known: Mutex::default() }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The plugin versions known to merge, for the claim to lease what waits for them together.
    pub fn merging(&self) -> Vec<String> {
        self.known().iter().filter(|(_, merges)| **merges).map(|(label, _)| label.clone()).collect()
    }

    /// Learns whether the plugin version `label` merges, once.
    pub async fn learn(&self, label: &str) {
        if self.known().contains_key(label) {
            return;
        }
        let Ok(plugin) = label.parse::<PluginRef>() else { return };
        if let Ok((_, loaded)) = self.plugins.resolve(&plugin).await {
            self.known().insert(label.to_owned(), loaded.info().merges);
        }
    }

    /// Asks the plugin that made `batch` (one subscription's deliveries to one destination, in order) to
    /// merge their requests, in the tenant's share of plugin time; or says why it could not.
    pub async fn merge(&self, batch: &[ClaimedDelivery]) -> Result<Vec<MergedSend>, String> {
        let first = batch.first().ok_or("an empty batch")?;
        let plugin: PluginRef = first.plugin.parse()?;
        let (_, loaded) = self.plugins.resolve(&plugin).await.map_err(|error| match error {
            crate::plugins::ResolveError::Missing(message)
            | crate::plugins::ResolveError::Unavailable(message) => message,
        })?;
        let subscription = self
            .store
            .get_subscription(&first.tenant_id, &first.subscription_id)
            .await
            .map_err(|error| error.to_string())?
            .ok_or("its subscription was deleted")?;
        let requests: Vec<OutgoingRequest> =
            batch.iter().map(|d| outgoing(&d.request)).collect::<Result<_, _>>()?;
        let policy = self.policies.get(&first.tenant_id).await;
        let runtime = self.runtime.clone();
        let merged = self
            .executor
            .submit(&first.tenant_id, move || {
                let started = Instant::now();
                let input = SubscriptionInput {
                    id: &subscription.id,
                    endpoint_url: &subscription.endpoint_url,
                    config_json: &subscription.config_json,
                };
                let merged = runtime.merge_limited(&loaded, &requests, &input, &policy.limits);
                (merged, started.elapsed())
            })
            .await
            .ok_or("the merge was lost")?;
        let merged =
            merged.result.map_err(|error| format!("plugin {} could not merge: {error}", first.plugin))?;
        Ok(merged.into_iter().map(|m| (stored(m.request), m.carries)).collect())
    }
}

/// A stored request as the plugin made it.
fn outgoing(request: &StoredRequest) -> Result<OutgoingRequest, String> {
    const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
    let method = METHODS
        .iter()
        .find(|method| method.eq_ignore_ascii_case(&request.method))
        .ok_or_else(|| format!("method {} cannot be merged", request.method))?;
    let body = match String::from_utf8(request.body.clone()) {
        Ok(text) => Body::Text(text),
        Err(bytes) => Body::Binary(bytes.into_bytes()),
    };
    Ok(OutgoingRequest { method, url: request.url.clone(), headers: request.headers.clone(), body })
}

fn stored(request: OutgoingRequest) -> StoredRequest {
    let body = match request.body {
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
    };
    StoredRequest { method: request.method.to_owned(), url: request.url, headers: request.headers, body }
}

/// Whether an answer to a batch of `size` refuses it as a whole, to be split.
pub fn refused_as_a_whole(status: Option<u16>, size: usize) -> bool {
    size > 1 && matches!(status, Some(400 | 413 | 422))
}

/// The most deliveries the next batches carrying a refused batch's deliveries may hold.
pub fn split_limit(size: usize) -> u32 {
    size.div_ceil(2).max(1).min(u32::MAX as usize) as u32
}

/// A new batch's id, shown on each delivery it carried and sent as its `webhook-id`.
pub fn new_batch_id() -> String {
    crate::ids::new_id("bat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_batch_is_split_in_halves_until_one_is_alone() {
        assert!(refused_as_a_whole(Some(400), 7));
        assert_eq!(split_limit(7), 4);
        assert_eq!(split_limit(2), 1);
        assert!(!refused_as_a_whole(Some(400), 1), "alone, a 400 is its own failure");
        assert!(!refused_as_a_whole(Some(500), 7), "a server error is the batch's failed attempt");
    }
}
