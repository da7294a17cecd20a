-- Retention (docs/read-api.md §7, src/retention): what the purge of old rollup buckets reads.
--
-- The minute tables have their bucket index (005) and the hourly tables lead their primary key
-- with the bucket (002); the daily tables lead theirs with the entity, so a purge by bucket
-- would read the whole table. One row per (entity, day, vendor): the index is small, and a fold
-- updates a day row without changing its bucket, so the update stays HOT.
CREATE INDEX IF NOT EXISTS idx_agent_stats_daily_bucket ON agent_stats_daily (bucket);
CREATE INDEX IF NOT EXISTS idx_gateway_stats_daily_bucket ON gateway_stats_daily (bucket);
