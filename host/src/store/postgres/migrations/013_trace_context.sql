-- A subscription that asks for W3C trace context: each delivery attempt carries a `traceparent` header
-- naming its span in the event's trace (derived ids; see host/src/telemetry/ids.rs).
ALTER TABLE subscriptions ADD COLUMN trace_context BOOLEAN NOT NULL DEFAULT FALSE;
