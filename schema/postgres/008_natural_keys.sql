-- Natural keys that hold whatever the time, and per tenant (docs/protocol.md §5).
--
-- agent_interactions: the key is (agent_id, nonce), but the table is partitioned by month on
-- time, and PostgreSQL's unique indexes on a partitioned table must contain the partition
-- key: its primary key (time, agent_id, nonce) lets a resend with another time in. So every
-- stored interaction also has its (agent_id, nonce) here, in an unpartitioned table, written
-- in the same transaction as the row by the COPY sink:
--   * direct path (no duplicate expected): the rows are COPYed into the connection's staging
--     table, then `INSERT INTO agent_interaction_keys … SELECT … FROM stage` (no ON CONFLICT)
--     and `INSERT INTO agent_interactions … SELECT … FROM stage`; a repeated key raises
--     unique_violation, and the sink redoes the batch the careful way, as for any duplicate;
--   * staged path: the new keys are inserted with ON CONFLICT DO NOTHING RETURNING, the staged
--     rows whose (agent_id, nonce, time) did not come back are deleted from staging, and the
--     usual INSERT … ON CONFLICT DO NOTHING (with its rollup tallies) stores the rest. The key
--     insert waits on, then skips, a key another transaction is inserting, so two receivers
--     given the same event at once store it once.
-- `time` is the stored row's time: the row a key stands for, and what retention purges by.
-- The primary key of agent_interactions stays: it is implied by this one, and changing it
-- would rewrite the table.
CREATE TABLE IF NOT EXISTS agent_interaction_keys (
    agent_id    VARCHAR(64) NOT NULL,
    nonce       BIGINT NOT NULL,
    time        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agent_id, nonce)
);

-- Rows stored before this migration that repeat an agent's nonce at another time: the
-- earliest is the event, the later ones are resends stored twice. They go; the rollups
-- folded from them are not corrected here.
DELETE FROM agent_interactions a
 WHERE EXISTS (
       SELECT 1 FROM agent_interactions b
        WHERE b.agent_id = a.agent_id AND b.nonce = a.nonce AND b.time < a.time);

INSERT INTO agent_interaction_keys (agent_id, nonce, time)
SELECT agent_id, nonce, time FROM agent_interactions
ON CONFLICT DO NOTHING;

-- gateway_telemetry: (source, id) within the API key's tenant, so that one tenant's events
-- never hide another's. Every stored row was unique on (source, id), hence on this key too.
ALTER TABLE gateway_telemetry DROP CONSTRAINT IF EXISTS gateway_telemetry_pkey;
ALTER TABLE gateway_telemetry ADD CONSTRAINT gateway_telemetry_pkey PRIMARY KEY (tenant_id, event_source, event_id);
