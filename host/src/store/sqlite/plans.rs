//! The query plans SQLite makes for the statements that must find their rows through an index: the claims
//! walk their own in order, and the charts and the retention purge find the whole service's deliveries
//! tenant by tenant, never reading every delivery.

use super::SqliteStore;

/// A connection to a store's database, with the schema brought up to date by opening the store, in a
/// temporary directory (kept while the connection is used).
fn open_schema() -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gancho.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    (dir, conn)
}

#[test]
fn charts_and_retention_find_the_services_deliveries_tenant_by_tenant() {
    let (_dir, conn) = open_schema();
    conn.execute("CREATE TEMP TABLE purge_batch (id TEXT PRIMARY KEY) WITHOUT ROWID", []).unwrap();
    let charts = crate::store::stats::stats_sql(crate::store::StatsScope::Service);
    for sql in [
        charts.outcomes.as_str(),
        &charts.latencies,
        &charts.plugin_errors,
        &charts.sent,
        super::retention::PURGE_BATCH_SQL,
    ] {
        let plan = query_plan(&conn, sql);
        assert!(
            plan.contains("USING INDEX deliveries_by_tenant"),
            "{sql}\nshould walk tenants, plan:\n{plan}"
        );
        let scans_deliveries =
            plan.lines().any(|line| line.starts_with("SCAN d") || line.contains("SCAN deliveries"));
        assert!(!scans_deliveries, "{sql}\nshould not read every delivery, plan:\n{plan}");
    }
}

#[test]
fn claims_use_their_indexes() {
    let (_dir, conn) = open_schema();
    for (sql, index) in [
        (super::events::CLAIM_SQL, "events_unprocessed"),
        (super::deliveries::CLAIM_SQL, "deliveries_due"),
        (super::deliveries::CLAIM_PLUGIN_RETRIES_SQL, "deliveries_plugin_retries"),
    ] {
        let plan = query_plan(&conn, sql);
        assert!(plan.contains(index), "{sql}\nshould use {index}, plan:\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\nshould not sort, plan:\n{plan}");
    }
}

/// The plan SQLite runs `sql` with (every parameter 0), a step per line.
fn query_plan(conn: &rusqlite::Connection, sql: &str) -> String {
    let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let parameters = statement.parameter_count();
    let plan: Vec<String> = statement
        .query_map(rusqlite::params_from_iter(std::iter::repeat_n(0, parameters)), |row| row.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    plan.join("\n")
}
