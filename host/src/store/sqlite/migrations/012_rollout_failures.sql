-- A rolled-back candidate's failures, kept with its rollout when its deliveries are handed back to the
-- current version (whose re-runs replace them): the first few per rollout, for the tenant to read, purged
-- with retention like the deliveries they came from.
CREATE TABLE rollout_failures (
    rollout_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL,               -- plugin_error, failed or dead, when handed back
    error_kind TEXT,
    error TEXT,
    logs TEXT,                          -- the plugin's log lines, as deliveries keep them
    created_at INTEGER NOT NULL,        -- when the candidate ran
    kept_at INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, delivery_id)
);
CREATE INDEX rollout_failures_by_age ON rollout_failures (kept_at);
