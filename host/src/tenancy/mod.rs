//! Tenancy: what each tenant may use. The service's defaults (`[quotas]` and `[limits]` in the
//! configuration), and what the operator set for one tenant (its *policy*): quotas on the tenant's own
//! plugins, and per-invocation limits that may only be lower than the service's. The pipeline and the API
//! read a tenant's resolved policy through [`Policies`], a short-lived cache.
//!
//! A tenant's own plugins are named `<tenant>/<name>`: a subscription names them so, no other tenant can
//! name them, and uploading one can never change what a shared plugin's name means.

mod cache;
mod replays;

use serde::{Deserialize, Serialize};

pub use cache::Policies;
pub use replays::ReplayBudget;

use crate::runtime::Limits;

/// What a tenant may store of its own plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Largest plugin version, in bytes.
    pub max_plugin_bytes: u64,
    /// Versions of one plugin kept at once (delete an unused old one to make room).
    pub max_versions_per_plugin: u64,
    /// Bytes of all the tenant's plugin versions together.
    pub max_plugin_bytes_total: u64,
    /// Subscriptions of the tenant at once.
    pub max_subscriptions: u64,
    /// Replays and bulk retries the tenant may start in one hour (each instance counts its own).
    pub max_replays_per_hour: u64,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            max_plugin_bytes: 32 << 20,
            max_versions_per_plugin: 50,
            max_plugin_bytes_total: 256 << 20,
            max_subscriptions: 100,
            max_replays_per_hour: 60,
        }
    }
}

/// What the operator set for one tenant; anything left out is the service's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    #[serde(default, skip_serializing_if = "QuotaSettings::is_empty")]
    pub quotas: QuotaSettings,
    #[serde(default, skip_serializing_if = "LimitSettings::is_empty")]
    pub limits: LimitSettings,
}

/// Quotas set for one tenant (higher or lower than the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_plugin_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_versions_per_plugin: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_plugin_bytes_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_subscriptions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replays_per_hour: Option<u64>,
}

impl QuotaSettings {
    fn is_empty(&self) -> bool {
        *self == QuotaSettings::default()
    }
}

/// Per-invocation limits set for one tenant; each at most the service's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_log_lines: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_log_bytes: Option<usize>,
}

impl LimitSettings {
    fn is_empty(&self) -> bool {
        *self == LimitSettings::default()
    }

    /// Each limit set here with the service's: the first one set higher, as `(key, set, service's)`.
    pub fn first_above(&self, service: &Limits) -> Option<(&'static str, u64, u64)> {
        let pairs = [
            ("limits.memory_bytes", self.memory_bytes.map(|v| v as u64), service.memory_bytes as u64),
            ("limits.timeout_ms", self.timeout_ms, service.timeout_ms),
            ("limits.max_requests", self.max_requests.map(|v| v as u64), service.max_requests as u64),
            (
                "limits.max_output_bytes",
                self.max_output_bytes.map(|v| v as u64),
                service.max_output_bytes as u64,
            ),
            ("limits.max_log_lines", self.max_log_lines.map(|v| v as u64), service.max_log_lines as u64),
            ("limits.max_log_bytes", self.max_log_bytes.map(|v| v as u64), service.max_log_bytes as u64),
        ];
        pairs.into_iter().find_map(|(key, set, max)| set.filter(|set| *set > max).map(|set| (key, set, max)))
    }
}

/// A tenant's policy with the defaults filled in: what applies to it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Resolved {
    pub quotas: Quotas,
    #[schema(value_type = Object)]
    pub limits: Limits,
}

impl TenantPolicy {
    /// Parses a policy as stored; a policy that no longer parses (it never should) counts as none, so a
    /// tenant is never locked out by it.
    pub fn from_stored(json: Option<&str>) -> TenantPolicy {
        json.and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default()
    }

    /// The policy over the service's defaults; limits never above the service's.
    pub fn resolve(&self, quotas: &Quotas, limits: &Limits) -> Resolved {
        let q = &self.quotas;
        let l = &self.limits;
        let quotas = Quotas {
            max_plugin_bytes: q.max_plugin_bytes.unwrap_or(quotas.max_plugin_bytes),
            max_versions_per_plugin: q.max_versions_per_plugin.unwrap_or(quotas.max_versions_per_plugin),
            max_plugin_bytes_total: q.max_plugin_bytes_total.unwrap_or(quotas.max_plugin_bytes_total),
            max_subscriptions: q.max_subscriptions.unwrap_or(quotas.max_subscriptions),
            max_replays_per_hour: q.max_replays_per_hour.unwrap_or(quotas.max_replays_per_hour),
        };
        let own = Limits {
            memory_bytes: l.memory_bytes.unwrap_or(limits.memory_bytes),
            timeout_ms: l.timeout_ms.unwrap_or(limits.timeout_ms),
            fuel: limits.fuel,
            max_requests: l.max_requests.unwrap_or(limits.max_requests),
            max_output_bytes: l.max_output_bytes.unwrap_or(limits.max_output_bytes),
            max_log_lines: l.max_log_lines.unwrap_or(limits.max_log_lines),
            max_log_bytes: l.max_log_bytes.unwrap_or(limits.max_log_bytes),
        };
        Resolved { quotas, limits: own.capped_by(limits) }
    }
}

/// The tenant that owns a plugin name (`acme/crm` → `acme`); `None` for a shared plugin.
pub fn plugin_owner(name: &str) -> Option<&str> {
    name.split_once('/').map(|(owner, _)| owner)
}

/// The full name of `tenant`'s own plugin `name` (`acme`, `crm` → `acme/crm`).
pub fn own_plugin_name(tenant: &str, name: &str) -> String {
    format!("{}{name}", crate::store::tenant_plugin_prefix(tenant))
}

/// Whether `tenant` may use (see, run, subscribe to) the plugin `name`: a shared plugin, or its own. The
/// one rule the API and the pipeline both apply.
pub fn may_use(tenant: &str, name: &str) -> bool {
    plugin_owner(name).is_none_or(|owner| owner == tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_overrides_defaults_and_never_raises_limits() {
        let policy: TenantPolicy = serde_json::from_str(
            r#"{"quotas": {"max_versions_per_plugin": 3}, "limits": {"timeout_ms": 20, "memory_bytes": 1073741824}}"#,
        )
        .unwrap();
        let service = Limits::default();
        let resolved = policy.resolve(&Quotas::default(), &service);
        assert_eq!(resolved.quotas.max_versions_per_plugin, 3);
        assert_eq!(resolved.quotas.max_plugin_bytes, Quotas::default().max_plugin_bytes);
        assert_eq!(resolved.limits.timeout_ms, 20);
        assert_eq!(resolved.limits.memory_bytes, service.memory_bytes);
        assert_eq!(policy.limits.first_above(&service), Some(("limits.memory_bytes", 1 << 30, 32 << 20)));
    }

    #[test]
    fn unknown_policy_keys_are_refused_and_bad_stored_ones_ignored() {
        assert!(serde_json::from_str::<TenantPolicy>(r#"{"quotas": {"max_plugins": 3}}"#).is_err());
        assert_eq!(TenantPolicy::from_stored(Some("not json")), TenantPolicy::default());
    }

    #[test]
    fn plugin_names_say_their_owner() {
        assert_eq!(plugin_owner("acme/crm"), Some("acme"));
        assert_eq!(plugin_owner("slack"), None);
        assert_eq!(own_plugin_name("acme", "crm"), "acme/crm");
        assert!(may_use("acme", "slack") && may_use("acme", "acme/crm"));
        assert!(!may_use("acme.b", "acme/crm") && !may_use("acme", "acme.b/crm"));
    }
}
