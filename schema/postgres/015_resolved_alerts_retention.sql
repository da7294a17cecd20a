-- Retention of resolved alerts (docs/read-api.md §7, src/retention): the purge deletes the
-- alerts resolved before the cutoff in batches. Without an index on resolved_at each batch
-- would read the whole table, open alerts and young history included. Partial, like the
-- open-alert index of 007: an open alert has no resolved_at and is never purged, and a
-- resolution (an UPDATE that sets state and resolved_at) adds the row to it once.
CREATE INDEX IF NOT EXISTS idx_agent_alerts_resolved_at ON agent_alerts (resolved_at) WHERE state = 'resolved';
