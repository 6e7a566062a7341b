-- Tenants' connections: credentials for their destinations, sealed (encrypted and authenticated) with the
-- key `key_id` of the configuration; the row never holds a secret in clear. `hosts` (JSON array) are the
-- hosts the credential may be sent to. A connection whose grant was revoked is `broken` until changed.
CREATE TABLE connections (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    hosts TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    sealed BLOB NOT NULL,
    broken_reason TEXT,
    last_error TEXT,
    last_used_at INTEGER,
    last_refreshed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- The connections a subscription's requests may carry (JSON array of names), and the hosts its plugin may
-- send to (JSON array; NULL: any the destination guard allows).
ALTER TABLE subscriptions ADD COLUMN connections TEXT NOT NULL DEFAULT '[]';
ALTER TABLE subscriptions ADD COLUMN allowed_hosts TEXT;
