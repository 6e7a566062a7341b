-- Per-endpoint limits, kept by every claim (see `store/throttle.rs`).
-- A subscription's concurrency bound (NULL: the service's `delivery.max_in_flight_per_endpoint`) and rate
-- limit in sends per second (NULL: none).
ALTER TABLE subscriptions ADD COLUMN max_in_flight INTEGER, ADD COLUMN rate_limit INTEGER;

-- A delivery deferred by its subscription's rate limit holds the send slot it was deferred to.
ALTER TABLE deliveries ADD COLUMN rate_slot BOOLEAN NOT NULL DEFAULT FALSE;

-- Each rate-limited subscription's next free send slot (Unix ms, fractional).
CREATE TABLE rate_limit_slots (
    subscription_id TEXT PRIMARY KEY,
    next_slot_at DOUBLE PRECISION NOT NULL
);

-- Deliveries leased to a delivery worker, by subscription: the in-flight counts. A recorded attempt sets
-- `lease_until` back to 0, so only work in flight (or leased by an instance that died) is here.
CREATE INDEX deliveries_in_flight ON deliveries (subscription_id, lease_until)
    WHERE lease_until > 0 AND status IN ('pending', 'failed');
