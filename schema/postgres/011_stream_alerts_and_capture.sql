-- The live event stream (docs/read-api.md §4): alert events, and row capture that costs
-- ingest nothing while no receiver has a subscriber.
--
-- 1. Alert changes. An alert's row is updated in place (resolved, acknowledged), and an
--    UPDATE does not re-run a column default, so the alert table cannot be the stream's log.
--    agent_alert_changes is: one row per change (fired, resolved, acknowledged), written in
--    the same transaction as the change, holding the alert object as it stood after it. Rows
--    are few (changes of state), so their transaction id is always captured, with a btree.
--    Rows older than a day are deleted by the alert evaluator's sweep (resume needs minutes).
--
-- 2. Capture only while someone may read it. 006 filled stream_xid on every row of the raw
--    tables; that default and its index cost the COPY backend a few percent of its CPU even
--    with no subscriber anywhere. The raw tables' default is now stream_capture_xid(), a SQL
--    function that PostgreSQL inlines into each statement when the statement is planned:
--    while no receiver has a subscriber its body is `NULL` (a constant default: no per-row
--    call; the BRIN index's upkeep per row remains), and a receiver that gets a subscriber
--    replaces its body with `txid_current()` (no table lock: ingest never waits for it),
--    then waits out the transactions that may have planned the old body before it admits the
--    subscriber. stream_capture holds the switch's state; stream_listeners says which
--    receivers have subscribers now (other receivers NOTIFY only while one has), and capture
--    is switched off once no receiver has had one for the resume window.

CREATE TABLE IF NOT EXISTS agent_alert_changes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   UUID NOT NULL,
    agent_id   VARCHAR(64) NOT NULL,
    -- The tenant the alert fired for: only its keys stream the change.
    tenant_id  VARCHAR(64) NOT NULL,
    change     VARCHAR(16) NOT NULL CHECK (change IN ('fired', 'resolved', 'acknowledged')),
    -- The §5 alert object after the change, exactly as the stream sends it.
    alert      JSONB NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    stream_xid BIGINT NOT NULL DEFAULT txid_current()
);
CREATE INDEX IF NOT EXISTS idx_agent_alert_changes_stream_xid ON agent_alert_changes (stream_xid);
CREATE INDEX IF NOT EXISTS idx_agent_alert_changes_changed_at ON agent_alert_changes (changed_at);

-- The alert row's own stream_xid (007) is superseded by the change log.
DROP INDEX IF EXISTS idx_agent_alerts_stream_xid;
ALTER TABLE agent_alerts DROP COLUMN IF EXISTS stream_xid;

-- STABLE and a single SELECT: the planner inlines it (a constant NULL, or txid_current()).
CREATE OR REPLACE FUNCTION stream_capture_xid() RETURNS BIGINT LANGUAGE sql STABLE AS 'SELECT NULL::bigint';

-- Without ONLY, the partitions' own defaults go too; rows are always inserted through the parent.
ALTER TABLE agent_interactions ALTER COLUMN stream_xid DROP DEFAULT;
ALTER TABLE agent_telemetry ALTER COLUMN stream_xid DROP DEFAULT;
ALTER TABLE ONLY agent_interactions ALTER COLUMN stream_xid SET DEFAULT stream_capture_xid();
ALTER TABLE ONLY agent_telemetry ALTER COLUMN stream_xid SET DEFAULT stream_capture_xid();

-- One row. state: 'off' (body NULL), 'starting' (body txid_current(), transactions that may
-- have planned NULL still running), 'on' (every statement now captures). since_xid: an id
-- taken by the switch to 'starting'; an event id below it is from an earlier capture period
-- and cannot be resumed from (rows were not captured in between).
CREATE TABLE IF NOT EXISTS stream_capture (
    singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    state      VARCHAR(16) NOT NULL DEFAULT 'off' CHECK (state IN ('off', 'starting', 'on')),
    since_xid  BIGINT,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO stream_capture (singleton) VALUES (true) ON CONFLICT DO NOTHING;

-- Receivers with at least one subscriber, each refreshing its row every second or so.
CREATE TABLE IF NOT EXISTS stream_listeners (
    receiver_id VARCHAR(64) PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);
