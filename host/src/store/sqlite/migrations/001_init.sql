-- Gancho's SQLite schema, version 1. Times are Unix milliseconds; lists and header pairs are JSON text.
-- A lease is a time: the row is free once `lease_until <= now` (0: never leased).

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_sha256 TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    created_at INTEGER NOT NULL
);

-- The binary is the last column so that listing versions never reads its overflow pages.
CREATE TABLE plugin_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    wasm BLOB NOT NULL,
    PRIMARY KEY (name, version)
);

-- Ids are unique across tenants: attempts and health updates name a subscription by id alone.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    event_types TEXT NOT NULL,          -- JSON array of patterns
    plugin_name TEXT NOT NULL,
    plugin_version INTEGER,             -- NULL: follow the latest
    endpoint_url TEXT NOT NULL,
    config_json TEXT NOT NULL,
    headers TEXT NOT NULL,              -- JSON array of [name, value]
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at INTEGER,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    failing_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_id, created_at);

-- No foreign key to tenants: ingest checks the tenant once per batch, which is cheaper than once per row.
CREATE TABLE events (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_timestamp TEXT NOT NULL,
    data TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
-- The event claim: unprocessed events oldest first, skipping leased ones without reading their rows.
CREATE INDEX events_unprocessed ON events (received_at, lease_until) WHERE processed = 0;

-- No foreign key to subscriptions: a delivery's history outlives its subscription.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    status TEXT NOT NULL,
    request_method TEXT,                -- NULL: no request (skipped, plugin error)
    request_url TEXT,
    request_headers TEXT,               -- JSON array of [name, value]
    request_body BLOB,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The delivery claim and the queue size: only rows waiting for an attempt.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
-- The plugin retry claim: only transient plugin errors.
CREATE INDEX deliveries_plugin_retries ON deliveries (next_attempt_at)
    WHERE status = 'plugin_error' AND next_attempt_at IS NOT NULL;
-- Listing (newest first), by event, by subscription (and replaying a time range).
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, created_at);
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, created_at);

CREATE TABLE attempts (
    delivery_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    response_excerpt TEXT NOT NULL,
    error TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, at);
