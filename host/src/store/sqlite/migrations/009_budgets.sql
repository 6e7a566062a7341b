-- Destination budgets (see `delivery/budgets`): a destination is the account requests go to, named
-- `{tenant} {host}`; every delivery to it draws on one budget, across subscriptions and instances.
-- `requests` per `window_ms`: the budget set with a connection for each of its hosts (NULL: the service's
-- defaults for well-known hosts, or none). `next_slot_at`: the destination's next free send slot (Unix ms). A 429, or a
-- 503 with Retry-After, pauses it until `paused_until`, with `pause_reason`; `backoff_ms` is the last pause
-- made without a Retry-After, doubled by the next one that follows soon.
CREATE TABLE destination_budgets (
    destination TEXT PRIMARY KEY,
    requests INTEGER,
    window_ms INTEGER,
    next_slot_at REAL,
    paused_until INTEGER,
    pause_reason TEXT,
    backoff_ms INTEGER
);

-- A delivery's destination (NULL for deliveries made before budgets), the batch that last carried it, and
-- the most deliveries a batch carrying it may hold (lowered when a batch is refused as a whole).
ALTER TABLE deliveries ADD COLUMN destination TEXT;
ALTER TABLE deliveries ADD COLUMN batch_id TEXT;
ALTER TABLE deliveries ADD COLUMN batch_limit INTEGER;
