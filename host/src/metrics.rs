//! Prometheus metrics: events in, plugin runs and their duration, plugin failures by plugin version and
//! kind, paused subscriptions, plugin runs waiting for a thread, items per pipeline commit, deliveries handed
//! over by their commit, deliveries by
//! outcome, attempts and their latency, queue depth and the oldest pending item's age, and requests,
//! merges and pauses per destination host.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::{Inserted, QueueStats};

type Labels = Vec<(&'static str, &'static str)>;
/// Labels with a value known only at run time (a plugin's `name@version`).
type OwnedLabels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    events: Family<Labels, Counter>,
    plugin_runs: Family<Labels, Counter>,
    plugin_seconds: Histogram,
    plugin_failures: Family<OwnedLabels, Counter>,
    subscriptions_paused: Counter,
    plugin_runs_waiting: Gauge,
    commit_group: Histogram,
    deliveries_handed: Counter,
    deliveries: Family<Labels, Counter>,
    attempt_seconds: Histogram,
    events_pending: Gauge,
    deliveries_pending: Gauge,
    oldest_pending_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Requests sent per destination host, by [`known_host_index`]: made once, counted without a lookup.
    destination_requests_by_host: Vec<Counter>,
    destination_merged: Family<Labels, Counter>,
    destination_pauses: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("gancho");
        let events = Family::<Labels, Counter>::default();
        registry.register(
            "events_received",
            "Events posted, by outcome (new, duplicate, unknown_tenant)",
            events.clone(),
        );
        let plugin_runs = Family::<Labels, Counter>::default();
        registry.register(
            "plugin_runs",
            "Plugin invocations, by outcome (ok, or the error kind)",
            plugin_runs.clone(),
        );
        let plugin_seconds = Histogram::new(exponential_buckets(0.000_005, 2.0, 20));
        registry.register(
            "plugin_run_duration_seconds",
            "Time of one plugin invocation",
            plugin_seconds.clone(),
        );
        let plugin_failures = Family::<OwnedLabels, Counter>::default();
        registry.register(
            "plugin_failures",
            "Failed plugin invocations, by plugin version (name@version) and kind (timeout, trap, memory_limit, …)",
            plugin_failures.clone(),
        );
        let subscriptions_paused = Counter::default();
        registry.register(
            "subscriptions_paused",
            "Subscriptions whose plugin runs were paused after hitting their deadline too often in a row",
            subscriptions_paused.clone(),
        );
        let plugin_runs_waiting = Gauge::default();
        registry.register(
            "plugin_runs_waiting",
            "Plugin runs queued for a plugin thread, across tenants",
            plugin_runs_waiting.clone(),
        );
        let commit_group = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "pipeline_commit_items",
            "Events and plugin retries committed together in one pipeline commit",
            commit_group.clone(),
        );
        let deliveries_handed = Counter::default();
        registry.register(
            "deliveries_handed",
            "Deliveries handed to this instance's delivery worker by the commit that stored them, not claimed",
            deliveries_handed.clone(),
        );
        let deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts, by the delivery's resulting status (succeeded, failed, dead)",
            deliveries.clone(),
        );
        let attempt_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 16));
        registry.register(
            "delivery_attempt_duration_seconds",
            "Time of one HTTP attempt",
            attempt_seconds.clone(),
        );
        let events_pending = Gauge::default();
        registry.register(
            "events_pending",
            "Events stored but not yet through their plugins",
            events_pending.clone(),
        );
        let deliveries_pending = Gauge::default();
        registry.register(
            "deliveries_pending",
            "Deliveries waiting for an attempt",
            deliveries_pending.clone(),
        );
        let oldest_pending_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "oldest_pending_age_seconds",
            "Age of the oldest event or delivery still waiting",
            oldest_pending_seconds.clone(),
        );
        let destination_requests = Family::<Labels, Counter>::default();
        registry.register(
            "destination_requests",
            "Requests sent, by destination host (a well-known API's, else `other`)",
            destination_requests.clone(),
        );
        let destination_merged = Family::<Labels, Counter>::default();
        registry.register(
            "destination_deliveries_merged",
            "Deliveries that went out merged into another's request, by destination host",
            destination_merged.clone(),
        );
        let destination_pauses = Family::<Labels, Counter>::default();
        registry.register(
            "destination_pauses",
            "Times a destination asked to slow down (429, or 503 with Retry-After) and was paused, by host",
            destination_pauses.clone(),
        );
        let destination_requests_by_host = KNOWN_HOSTS
            .iter()
            .chain(&["other"])
            .map(|host| destination_requests.get_or_create(&vec![("host", *host)]).clone())
            .collect();
        Metrics {
            registry,
            destination_requests_by_host,
            destination_merged,
            destination_pauses,
            events,
            plugin_runs,
            plugin_seconds,
            plugin_failures,
            subscriptions_paused,
            plugin_runs_waiting,
            commit_group,
            deliveries_handed,
            deliveries,
            attempt_seconds,
            events_pending,
            deliveries_pending,
            oldest_pending_seconds,
        }
    }
}

/// The `plugin` label of a plugin version: `name@version` for a shared plugin (named by the operator), and
/// `tenant/*` for every version of a tenant's own plugins, whose names the tenant chooses. A label of a
/// tenant's choosing would let it add series without bound, and put words of its choice in the operator's
/// dashboards; which of its plugins failed is on its deliveries.
fn plugin_label(plugin: &str) -> String {
    let name = plugin.split_once('@').map_or(plugin, |(name, _)| name);
    match crate::tenancy::plugin_owner(name) {
        Some(owner) => format!("{owner}/*"),
        None => plugin.to_owned(),
    }
}

impl Metrics {
    pub fn events_received(&self, inserted: Inserted) {
        let outcome = match inserted {
            Inserted::New { .. } => "new",
            Inserted::Duplicate => "duplicate",
            Inserted::UnknownTenant => "unknown_tenant",
        };
        self.events.get_or_create(&vec![("outcome", outcome)]).inc();
    }

    pub fn plugin_run(&self, outcome: &'static str, seconds: f64) {
        self.plugin_runs.get_or_create(&vec![("outcome", outcome)]).inc();
        self.plugin_seconds.observe(seconds);
    }

    /// A failed invocation of `plugin` (`name@version`), by the error's kind.
    pub fn plugin_failure(&self, plugin: &str, kind: &'static str) {
        self.plugin_failures
            .get_or_create(&vec![("plugin", plugin_label(plugin)), ("kind", kind.to_owned())])
            .inc();
    }

    pub fn subscription_paused(&self) {
        self.subscriptions_paused.inc();
    }

    pub fn set_plugin_runs_waiting(&self, waiting: usize) {
        self.plugin_runs_waiting.set(waiting as i64);
    }

    pub fn pipeline_commit(&self, items: usize) {
        self.commit_group.observe(items as f64);
    }

    pub fn deliveries_handed(&self, deliveries: usize) {
        self.deliveries_handed.inc_by(deliveries as u64);
    }

    pub fn attempt(&self, status: &'static str, seconds: f64) {
        self.deliveries.get_or_create(&vec![("status", status)]).inc();
        self.attempt_seconds.observe(seconds);
    }

    /// A request was sent to a destination on `host`, carrying `deliveries` deliveries.
    pub fn destination_request(&self, host: &str, deliveries: usize) {
        let index = known_host_index(host);
        self.destination_requests_by_host[index].inc();
        if deliveries > 1 {
            let labels = vec![("host", KNOWN_HOSTS.get(index).copied().unwrap_or("other"))];
            self.destination_merged.get_or_create(&labels).inc_by(deliveries as u64 - 1);
        }
    }

    pub fn destination_paused(&self, host: &str) {
        self.destination_pauses.get_or_create(&vec![("host", known_host(host))]).inc();
    }

    pub fn set_queue(&self, stats: &QueueStats) {
        self.events_pending.set(stats.events_pending as i64);
        self.deliveries_pending.set(stats.deliveries_pending as i64);
        self.oldest_pending_seconds.set(stats.oldest_pending_age_ms as f64 / 1000.0);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// The destination hosts named in labels: the well-known APIs'; any other is `other` (tenants choose
/// hosts: a label per host would grow without bound).
const KNOWN_HOSTS: [&str; 4] = ["sheets.googleapis.com", "api.hubapi.com", "hooks.slack.com", "slack.com"];

/// A destination host's place in [`KNOWN_HOSTS`], or its length for `other`.
fn known_host_index(host: &str) -> usize {
    KNOWN_HOSTS.iter().position(|known| *known == host).unwrap_or(KNOWN_HOSTS.len())
}

fn known_host(host: &str) -> &'static str {
    KNOWN_HOSTS.get(known_host_index(host)).copied().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_own_plugin_names_stay_out_of_the_labels() {
        let metrics = Metrics::default();
        metrics.plugin_failure("slack@3", "trap");
        metrics.plugin_failure("acme/secret-project@1", "timeout");
        metrics.plugin_failure("acme/another@7", "timeout");
        let text = metrics.encode();
        assert!(text.contains(r#"gancho_plugin_failures_total{plugin="slack@3",kind="trap"} 1"#), "{text}");
        assert!(text.contains(r#"gancho_plugin_failures_total{plugin="acme/*",kind="timeout"} 2"#), "{text}");
        assert!(!text.contains("secret-project") && !text.contains("another"), "{text}");
    }
}
