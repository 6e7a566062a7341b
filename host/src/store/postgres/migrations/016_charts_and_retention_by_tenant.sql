-- Two indexes fewer to write with every delivery. The operator's charts and the retention purge find the
-- whole service's deliveries tenant by tenant through `deliveries_by_tenant` (tenant, created_at) — tenants
-- are never deleted, so every delivery is under one — instead of through indexes of their own:
-- `deliveries_by_age` took an entry for every delivery stored, `deliveries_finished` one for every delivery
-- finished (and on PostgreSQL each took another with every update of the row).
-- A delivery last updated before the retention cut-off was made before it: the purge walks each tenant's
-- deliveries made before the cut-off and keeps the finished ones.
DROP INDEX deliveries_by_age;
DROP INDEX deliveries_finished;
