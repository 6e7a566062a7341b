-- Rollouts: a subscription's canary (a share of its events run by a candidate version of its plugin) is
-- three columns of the subscription, written only by the rollout operations; each rollout's history is a
-- row of its own. The state is a column because the watcher queries it; the rest is JSON.
ALTER TABLE subscriptions ADD COLUMN canary_rollout_id TEXT;
ALTER TABLE subscriptions ADD COLUMN canary_version INTEGER;
ALTER TABLE subscriptions ADD COLUMN canary_percent INTEGER;

CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    state TEXT NOT NULL,                -- running, promoted, rolled_back
    reruns_pending INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX rollouts_by_subscription ON rollouts (subscription_id, started_at);
-- The watcher's query: only rollouts with work left.
CREATE INDEX rollouts_to_watch ON rollouts (started_at) WHERE state = 'running' OR reruns_pending = 1;

-- Dry runs of a candidate over a subscription's past events: state and report, purged with retention.
CREATE TABLE dry_runs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    status TEXT NOT NULL,               -- running, done, failed
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX dry_runs_by_age ON dry_runs (updated_at);
