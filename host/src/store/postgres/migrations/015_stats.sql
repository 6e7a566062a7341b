-- The operator's charts count the whole service's deliveries made in a window (`store::stats`); the
-- tenant's and a subscription's find theirs by `deliveries_by_tenant`.
CREATE INDEX deliveries_by_age ON deliveries (created_at);
