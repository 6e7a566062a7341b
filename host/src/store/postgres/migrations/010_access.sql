-- Access: what a tenant's keys are (the start of each key, to recognise it by, and its last use), when its
-- console sessions were last ended (sessions begun before are over), and the portal links already followed
-- (each works once; a row is kept until the link would have expired anyway).
ALTER TABLE api_keys ADD COLUMN prefix TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
ALTER TABLE tenants ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;

CREATE TABLE followed_links (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX followed_links_by_expiry ON followed_links (expires_at);

-- Secrets the instances sharing this database agree on (the console's signing secret, unless configured).
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
