-- A subscription whose plugin kept hitting its deadline has its plugin runs paused: why, and since when
-- (both NULL while it runs). Its events wait as plugin errors until it is resumed.
ALTER TABLE subscriptions ADD COLUMN paused_reason TEXT;
ALTER TABLE subscriptions ADD COLUMN paused_at BIGINT;
