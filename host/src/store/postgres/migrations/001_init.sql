-- Gancho's PostgreSQL schema, version 1: the SQLite schema's tables, columns and indexes, in PostgreSQL's
-- types. Times are Unix milliseconds; header pairs are JSON text. A lease is a time: the row is free once
-- `lease_until <= now` (0: never leased).
--
-- Every update leaves the old row version behind until vacuum removes it, and its entries in the claim
-- indexes with it: a claim walks past those (cheaply: the first walk marks them dead), so the queue tables
-- ask autovacuum to come after 2% of their rows changed rather than the default 20%.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_sha256 TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE plugin_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    wasm BYTEA NOT NULL,
    PRIMARY KEY (name, version)
);

-- Ids are unique across tenants: attempts and health updates name a subscription by id alone.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    event_types TEXT[] NOT NULL,
    plugin_name TEXT NOT NULL,
    plugin_version INTEGER,             -- NULL: follow the latest
    endpoint_url TEXT NOT NULL,
    config_json TEXT NOT NULL,
    headers TEXT NOT NULL,              -- JSON array of [name, value]
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_id, created_at);

-- No foreign key to tenants: ingest checks the tenants once per batch, which is cheaper than once per row.
-- `data` is text, not jsonb: the event is handed to plugins byte for byte as it was posted.
CREATE TABLE events (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_timestamp TEXT NOT NULL,
    data TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    processed BOOLEAN NOT NULL DEFAULT FALSE,
    lease_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
) WITH (autovacuum_vacuum_scale_factor = 0.02);
-- The event claim: unprocessed events oldest first. The claim indexes keep one entry per row (no
-- deduplication into lists), so that an entry can be marked dead as soon as its row is done.
CREATE INDEX events_unprocessed ON events (received_at) WITH (deduplicate_items = off)
    WHERE NOT processed;

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
    request_body BYTEA,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.02);
-- The delivery claim and the queue size: only rows waiting for an attempt.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WITH (deduplicate_items = off)
    WHERE status IN ('pending', 'failed');
-- The plugin retry claim: only transient plugin errors.
CREATE INDEX deliveries_plugin_retries ON deliveries (next_attempt_at) WITH (deduplicate_items = off)
    WHERE status = 'plugin_error' AND next_attempt_at IS NOT NULL;
-- Listing (newest first), by event, by subscription (and replaying a time range, giving up its queue).
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, created_at);
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, created_at);

-- `number` is the delivery's attempt count after this attempt: it orders attempts recorded in the same
-- millisecond, which SQLite orders by rowid.
CREATE TABLE attempts (
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    at BIGINT NOT NULL,
    status_code INTEGER,
    latency_ms BIGINT NOT NULL,
    response_excerpt TEXT NOT NULL,
    error TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, at, number);
