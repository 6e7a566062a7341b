-- Tenants' own plugins are stored under `<tenant>/<name>` (tenant ids never contain `/`); shared
-- plugins have no `/`. A tenant's policy (quotas and per-invocation limits that the operator set for it)
-- is JSON text, NULL for the service's defaults.
ALTER TABLE tenants ADD COLUMN policy TEXT;

-- What a plugin run left for the integrator to read: the kind of a plugin error (`trap`, `timeout`, …) and
-- the plugin's log lines (JSON), NULL when it logged nothing.
ALTER TABLE deliveries ADD COLUMN error_kind TEXT;
ALTER TABLE deliveries ADD COLUMN logs TEXT;
