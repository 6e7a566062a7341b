//! Delivery figures over time for the charts (`…/stats`): deliveries by outcome, latency from event to
//! delivery, plugin errors by plugin version and requests sent per destination, each counted per time
//! bucket of a window. The SQL is written once here and run by both backends; every query reads the
//! deliveries made in the window through an index on their creation time.

use super::Millis;

/// Whose deliveries to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsScope<'a> {
    /// The whole service (the operator's overview).
    Service,
    Tenant(&'a str),
    Subscription {
        tenant_id: &'a str,
        subscription_id: &'a str,
    },
}

/// A window of `buckets` buckets of `bucket_ms` each, starting at `since`; a delivery counts in the bucket
/// it was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsWindow {
    pub since: Millis,
    pub bucket_ms: i64,
    pub buckets: u32,
}

impl StatsWindow {
    pub fn until(&self) -> Millis {
        self.since + self.bucket_ms * i64::from(self.buckets)
    }
}

/// How many of the window's deliveries are in `outcome` in bucket `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub bucket: u32,
    /// A delivery status, with `failed` split: `retrying` when it has a next attempt, else `failed`.
    pub outcome: String,
    pub count: u64,
}

/// How many of a bucket's succeeded deliveries took, from the event's receipt to their success, at most
/// [`LATENCY_CLASSES_MS`]`[class]` (the last class: longer than every bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyCount {
    pub bucket: u32,
    pub class: usize,
    pub count: u64,
}

/// Plugin errors of one plugin version (`acme/crm@3`) of one kind in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginErrorCount {
    pub plugin: String,
    /// `trap`, `timeout`, … (empty when not known).
    pub kind: String,
    pub count: u64,
}

/// Requests sent (attempts, paced ones included) to a destination (`{tenant} {host}`) in a bucket, by the
/// window's deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCount {
    pub destination: String,
    pub bucket: u32,
    pub count: u64,
}

/// Everything the charts draw, as counted rows (the API shapes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub outcomes: Vec<OutcomeCount>,
    pub latencies: Vec<LatencyCount>,
    pub plugin_errors: Vec<PluginErrorCount>,
    pub sent: Vec<SentCount>,
}

/// The upper bounds of the latency classes, in milliseconds; percentiles are given as the bound of the
/// class that holds them, so the histogram stays a cheap `GROUP BY` on both backends.
pub const LATENCY_CLASSES_MS: [i64; 15] = [
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    21_600_000,
    86_400_000,
    604_800_000,
];

/// The four statements (each names every parameter: PostgreSQL types them from their use), with `?n` parameters (PostgreSQL's `$n` by [`postgres_params`]): `?1` the start,
/// `?2` the bucket length, `?3` the end, then the scope's (`?4` the tenant, `?5` the subscription).
pub(crate) struct StatsSql {
    pub outcomes: String,
    pub latencies: String,
    pub plugin_errors: String,
    pub sent: String,
}

pub(crate) fn stats_sql(scope: StatsScope<'_>) -> StatsSql {
    let scope = match scope {
        // The whole service's, tenant by tenant through `deliveries_by_tenant` (tenants are never deleted,
        // so every delivery is under one): no index of deliveries by age alone to write with each of them.
        StatsScope::Service => "d.tenant_id IN (SELECT id FROM tenants) AND ",
        StatsScope::Tenant(_) => "d.tenant_id = ?4 AND ",
        StatsScope::Subscription { .. } => "d.tenant_id = ?4 AND d.subscription_id = ?5 AND ",
    };
    let window = format!("{scope}d.created_at >= ?1 AND d.created_at < ?3");
    let bucket = "(d.created_at - ?1) / ?2";
    let class = latency_class("(d.updated_at - e.received_at)");
    StatsSql {
        outcomes: format!(
            "SELECT {bucket} AS b,
                    CASE WHEN d.status = 'failed' AND d.next_attempt_at IS NOT NULL THEN 'retrying' ELSE d.status END AS o,
                    COUNT(*)
             FROM deliveries d WHERE {window} GROUP BY 1, 2"
        ),
        latencies: format!(
            "SELECT {bucket} AS b, {class} AS c, COUNT(*)
             FROM deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
             WHERE {window} AND d.status = 'succeeded' GROUP BY 1, 2"
        ),
        plugin_errors: format!(
            "SELECT d.plugin, COALESCE(d.error_kind, ''), COUNT(*)
             FROM deliveries d WHERE {window} AND d.status = 'plugin_error' AND CAST(?2 AS BIGINT) > 0
             GROUP BY 1, 2"
        ),
        sent: format!(
            "SELECT d.destination, (a.at - ?1) / ?2 AS b, COUNT(*)
             FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
             WHERE {window} AND d.destination IS NOT NULL AND a.at >= ?1 GROUP BY 1, 2"
        ),
    }
}

/// `CASE WHEN x <= 100 THEN 0 WHEN x <= 250 THEN 1 … ELSE n END` for the latency `x`.
fn latency_class(x: &str) -> String {
    let whens: String = LATENCY_CLASSES_MS
        .iter()
        .enumerate()
        .map(|(class, bound)| format!(" WHEN {x} <= {bound} THEN {class}"))
        .collect();
    format!("(CASE{whens} ELSE {} END)", LATENCY_CLASSES_MS.len())
}

/// The statement with PostgreSQL's `$n` parameters.
pub(crate) fn postgres_params(sql: &str) -> String {
    sql.replace('?', "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_names_only_its_own_parameters() {
        let service = stats_sql(StatsScope::Service);
        assert!(!service.outcomes.contains("?4"));
        let tenant = stats_sql(StatsScope::Tenant("acme"));
        assert!(tenant.outcomes.contains("?4") && !tenant.outcomes.contains("?5"));
        let sub = stats_sql(StatsScope::Subscription { tenant_id: "acme", subscription_id: "sub_1" });
        assert!(sub.sent.contains("?5"));
        assert!(postgres_params(&sub.latencies).contains("$5"));
    }

    #[test]
    fn latency_classes_cover_every_bound_and_beyond() {
        let case = latency_class("x");
        assert!(case.contains("WHEN x <= 100 THEN 0"));
        assert!(case.ends_with(&format!("ELSE {} END)", LATENCY_CLASSES_MS.len())));
    }
}
