-- Delivery lanes (see `delivery/lanes`): a subscription may name an ordering key; the deliveries of its
-- events with the same key value go one at a time, in the order the events were accepted.
-- `ordering_max_hold_secs`: how long one head may hold its key before it is dead-lettered (NULL: the
-- service's `delivery.ordering_max_hold_secs`).
ALTER TABLE subscriptions ADD COLUMN ordering_key TEXT;
ALTER TABLE subscriptions ADD COLUMN ordering_max_hold_secs INTEGER;

-- A delivery's lane: the key's value (NULL: unordered), and its place in the lane — the event's acceptance
-- sequence (the event row's rowid, which only grows: rows are never vacuumed and a purged event never has
-- a delivery left) and the request's index among the plugin's requests for that event.
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_seq INTEGER;
ALTER TABLE deliveries ADD COLUMN ordering_index INTEGER;
-- When its first attempt was made: a head holds its key from then, for at most the hold bound.
ALTER TABLE deliveries ADD COLUMN first_attempt_at INTEGER;

-- The lane check of the claim: a lane's unfinished deliveries (waiting, in flight, failing, or a plugin
-- error that will run again), in lane order. Finished ones leave the index.
CREATE INDEX deliveries_lanes ON deliveries (subscription_id, ordering_key, ordering_seq, ordering_index)
    WHERE ordering_key IS NOT NULL AND (status IN ('pending', 'failed')
        OR (status = 'plugin_error' AND next_attempt_at IS NOT NULL));

-- The acceptance barrier of the claim: a tenant's events not yet through their plugins, by sequence (the
-- index's implicit rowid). A lane's delivery waits while an earlier event of its tenant may still add to
-- its lane.
CREATE INDEX events_unprocessed_by_tenant ON events (tenant_id) WHERE processed = 0;
