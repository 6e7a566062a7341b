-- What a platform's customer sets and sees (issues 21 and 24).
-- A subscription's `name` (her words for it), its `filter` (a condition on the event, JSON; see `conditions`),
-- who to tell when it starts failing and recovers (`notify`, JSON), and the `failing_since` last told (so each
-- change is told once, by one instance).
ALTER TABLE subscriptions ADD COLUMN name TEXT;
ALTER TABLE subscriptions ADD COLUMN filter TEXT;
ALTER TABLE subscriptions ADD COLUMN notify TEXT;
ALTER TABLE subscriptions ADD COLUMN notified_failing_since INTEGER;
-- The platforms whose events a tenant has (JSON array: `phone`, `chat`); NULL: all.
ALTER TABLE tenants ADD COLUMN platforms TEXT;
-- A test send by the tenant (`test`, or `test:<subscription id>` through that one only); NULL: the platform's.
ALTER TABLE events ADD COLUMN origin TEXT;
-- Marked wherever it shows.
ALTER TABLE deliveries ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
-- The delivery this one re-ran (the subscription's current plugin, config and endpoint on the stored event).
ALTER TABLE deliveries ADD COLUMN rerun_of TEXT;
-- The automatic schedule a manual retry interrupted: a failed manual try goes back to it.
ALTER TABLE deliveries ADD COLUMN resume_at INTEGER;
-- Answers to creates sent with an `Idempotency-Key`, per tenant: the same key and body get the same answer.
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
-- Superseded deliveries (replaced by a re-run) are finished too: purged with the others.
DROP INDEX deliveries_finished;
CREATE INDEX deliveries_finished ON deliveries (updated_at)
    WHERE status IN ('succeeded', 'skipped', 'dead', 'superseded')
        OR (status = 'plugin_error' AND next_attempt_at IS NULL);
