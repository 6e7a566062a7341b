-- Finished deliveries by age, for the retention purge.
CREATE INDEX deliveries_finished ON deliveries (updated_at)
    WHERE status IN ('succeeded', 'skipped', 'dead') OR (status = 'plugin_error' AND next_attempt_at IS NULL);

-- Processed events by age, for the retention purge.
CREATE INDEX events_processed ON events (received_at) WHERE processed;
