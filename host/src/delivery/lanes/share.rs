//! Tenant shares of the sending capacity: how many deliveries of one tenant may be in flight at once.
//!
//! The claim keeps the bound across every instance (it counts the tenant's leased deliveries in the
//! store); this instance decides the bound from what it is sending: with `n` tenants sending, each may
//! have `capacity / max(2, n + 1)`, never less than [`MIN_SHARE`]. So a tenant alone may use half the capacity,
//! and whatever the busy tenants hold, some is always free for one that has not sent yet — a tenant whose
//! sends hang on a dead host gets its share, never the whole instance.

use std::collections::HashMap;
use std::sync::Mutex;

/// The smallest share a tenant gets, however many are sending.
pub const MIN_SHARE: u32 = 8;

/// This instance's sends in flight, per tenant.
pub struct TenantShares {
    capacity: u32,
    sending: Mutex<HashMap<String, u32>>,
}

impl TenantShares {
    pub fn new(capacity: usize) -> TenantShares {
        TenantShares { capacity: capacity.min(u32::MAX as usize) as u32, sending: Mutex::default() }
    }

    fn sending(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.sending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A send of `tenant` started.
    pub fn start(&self, tenant: &str) {
        *self.sending().entry(tenant.to_owned()).or_default() += 1;
    }

    /// A send of `tenant` ended.
    pub fn finish(&self, tenant: &str) {
        let mut sending = self.sending();
        if let Some(count) = sending.get_mut(tenant) {
            *count -= 1;
            if *count == 0 {
                sending.remove(tenant);
            }
        }
    }

    /// The most deliveries one tenant may have in flight now.
    pub fn per_tenant(&self) -> u32 {
        let tenants = self.sending().len() as u32;
        (self.capacity / (tenants + 1).max(2)).max(MIN_SHARE).min(self.capacity.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_alone_gets_half_and_others_always_find_room() {
        let shares = TenantShares::new(512);
        assert_eq!(shares.per_tenant(), 256);
        shares.start("gamma");
        assert_eq!(shares.per_tenant(), 256);
        shares.start("delta");
        assert_eq!(shares.per_tenant(), 170);
        shares.finish("delta");
        assert_eq!(shares.per_tenant(), 256);
    }

    #[test]
    fn the_share_never_drops_below_the_minimum() {
        let shares = TenantShares::new(64);
        for tenant in 0..100 {
            shares.start(&format!("t{tenant}"));
        }
        assert_eq!(shares.per_tenant(), MIN_SHARE);
    }
}
