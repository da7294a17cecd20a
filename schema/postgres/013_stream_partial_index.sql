-- The live event stream (docs/read-api.md §4): rows stored while nobody subscribes touch no
-- stream index.
--
-- While capture is off (schema 011) every new raw row has stream_xid NULL, yet the BRIN
-- indexes of 006 still took each of those rows: a summary lookup and update per row, and an
-- autosummarize work item per filled block range, which together cost the COPY backend a few
-- percent of its CPU with no subscriber anywhere. Partial indexes take only rows whose
-- stream_xid is set, so a row written with capture off costs one IS NOT NULL test on a column
-- it already has.
--
-- Every read of the log compares stream_xid with a bound (`stream_xid >= x`), and such a
-- comparison is never true for NULL, so the planner proves the predicate and keeps using the
-- index. The ranges filled while capture was off get their summary (all NULL, skipped by
-- every read) from the next summarisation: the stream's reader runs one as soon as capture
-- is on, and vacuum does it meanwhile.
--
-- On the partitioned parents, so that every partition attached later (src/database/partitions.ts,
-- retention's new months) gets the same partial index from ATTACH PARTITION. Building them
-- reads every existing partition once while the migration holds the tables' lock: COPY into
-- the raw tables waits for it (a sequential read, no sort).

DROP INDEX IF EXISTS idx_agent_interactions_stream_xid;
CREATE INDEX IF NOT EXISTS idx_agent_interactions_stream_xid ON agent_interactions
    USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on) WHERE stream_xid IS NOT NULL;

DROP INDEX IF EXISTS idx_agent_telemetry_stream_xid;
CREATE INDEX IF NOT EXISTS idx_agent_telemetry_stream_xid ON agent_telemetry
    USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on) WHERE stream_xid IS NOT NULL;
