-- The live event stream (docs/read-api.md §4) reads the committed rows themselves as its log.
--
-- stream_xid is the id of the transaction that inserted the row (64-bit, so it never wraps).
-- Every transaction with an id below the oldest one still running (the snapshot's xmin) has
-- ended, so the rows with stream_xid in [previous xmin, current xmin) are final: a stream
-- reader takes them in (stream_xid, source, key) order, and every receiver of the database
-- sees the same rows in the same order.
--
-- The DEFAULT fills the column in the inserting transaction on every path that names its
-- columns (the sink's direct COPY and its staged INSERT … SELECT alike). Rows stored before
-- this migration keep NULL: the stream only ever shows rows stored after it starts.
--
-- BRIN, not btree: rows arrive in transaction order at the end of the heap, so a block range
-- summary finds "the last few transactions" nearly as well as a btree, at a fraction of the
-- insert cost (bench/scenarios/stream-capture-cost.ts measures both). An unsummarised range is always
-- scanned, so while anyone subscribes the stream's reader summarises new ranges itself every
-- fraction of a second (brin_summarize_new_values); autosummarize covers the idle times.

ALTER TABLE agent_interactions ADD COLUMN IF NOT EXISTS stream_xid BIGINT;
ALTER TABLE agent_interactions ALTER COLUMN stream_xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX IF NOT EXISTS idx_agent_interactions_stream_xid ON agent_interactions
    USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on);

ALTER TABLE agent_telemetry ADD COLUMN IF NOT EXISTS stream_xid BIGINT;
ALTER TABLE agent_telemetry ALTER COLUMN stream_xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX IF NOT EXISTS idx_agent_telemetry_stream_xid ON agent_telemetry
    USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on);
