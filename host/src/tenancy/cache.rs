//! [`Policies`]: each tenant's resolved policy, read from the store at most every few seconds, so that
//! the pipeline can apply a tenant's limits on every run without a query per run, and a change the
//! operator makes on any instance is seen by all within [`POLICY_TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Quotas, Resolved, TenantPolicy};
use crate::runtime::Limits;
use crate::store::Store;

/// How long a tenant's policy is trusted before asking the store again.
const POLICY_TTL: Duration = Duration::from_secs(2);

/// Resolved policies by tenant, over the service's defaults.
pub struct Policies {
    store: Arc<dyn Store>,
    quotas: Quotas,
    limits: Limits,
    cached: Mutex<HashMap<String, (Instant, Arc<Resolved>)>>,
}

impl Policies {
    pub fn new(store: Arc<dyn Store>, quotas: Quotas, limits: Limits) -> Policies {
        Policies { store, quotas, limits, cached: Mutex::default() }
    }

    /// The service's defaults: a tenant with no policy gets these.
    pub fn defaults(&self) -> (&Quotas, &Limits) {
        (&self.quotas, &self.limits)
    }

    /// What applies to `tenant` now. A store that cannot be read gives the last known policy, or the
    /// defaults (which are never looser than the service's limits).
    pub async fn get(&self, tenant: &str) -> Arc<Resolved> {
        let stale = {
            let cached = self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match cached.get(tenant) {
                Some((fetched, resolved)) if fetched.elapsed() < POLICY_TTL => return resolved.clone(),
                Some((_, resolved)) => Some(resolved.clone()),
                None => None,
            }
        };
        let resolved = match self.store.get_tenant(tenant).await {
            Ok(found) => Arc::new(self.resolve(found.and_then(|t| t.policy_json).as_deref())),
            Err(error) => {
                tracing::warn!(%error, tenant, "cannot read the tenant's policy; using the last known one");
                return stale.unwrap_or_else(|| Arc::new(self.resolve(None)));
            }
        };
        let mut cached = self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cached.insert(tenant.to_owned(), (Instant::now(), resolved.clone()));
        resolved
    }

    /// A stored policy (or none) over the defaults.
    pub fn resolve(&self, policy_json: Option<&str>) -> Resolved {
        TenantPolicy::from_stored(policy_json).resolve(&self.quotas, &self.limits)
    }

    /// Forgets `tenant`'s policy, after this instance changed it.
    pub fn forget(&self, tenant: &str) {
        self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(tenant);
    }
}
