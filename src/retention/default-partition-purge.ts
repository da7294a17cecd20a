import type pg from 'pg';
import { inLockLimitedTransaction } from './lock-limited-transaction.js';
import type { RetentionLimits } from './retention-limits.js';

/** What the purge of one default partition did. */
export interface DefaultPartitionPurge {
  /** The default partition's name (the table its rows are counted under). */
  readonly partition: string;
  readonly deleted: number;
  /** agent_interaction_keys rows deleted with the interactions (0 for agent_telemetry). */
  readonly keysDeleted: number;
  /** False when the run's deadline came first: the next check goes on. */
  readonly complete: boolean;
}

/**
 * Deletes the rows older than `cutoff` from the DEFAULT partition of `table`: the rows whose
 * month has no partition of its own (an event from long ago, after its month was dropped, or one
 * dated far from now), which dropping monthly partitions never reaches. The default partition is
 * an ordinary table, so its rows go by batched deletes, agent by agent through the partition's
 * (agent_id, time) index (schema/postgres/001): agent_interactions has no index that leads with
 * time (014), and a batch never scans the partition's younger rows. Each batch is its own short
 * transaction under `lock_timeout`, as the partition DDL is.
 *
 * An interaction's agent_interaction_keys row goes in the same statement as the row: a key
 * stands for its stored row (008), so the pair goes together or not at all.
 */
export async function purgeDefaultPartition(
  client: pg.ClientBase,
  table: 'agent_interactions' | 'agent_telemetry',
  cutoffMs: number,
  limits: RetentionLimits,
): Promise<DefaultPartitionPurge> {
  const partition = `${table}_default`;
  const cutoff = new Date(cutoffMs).toISOString();
  // The agents with rows there, by a skip scan over the (agent_id, time) index: one probe each
  // (a filter on time here would walk every young row of the agents it passes).
  const { rows: agents } = await client.query<{ agent_id: string }>(
    `WITH RECURSIVE a AS (
       SELECT min(agent_id) AS agent_id FROM ${partition}
       UNION ALL
       SELECT (SELECT min(agent_id) FROM ${partition} WHERE agent_id > a.agent_id) FROM a WHERE a.agent_id IS NOT NULL)
     SELECT agent_id FROM a WHERE agent_id IS NOT NULL`,
  );
  const sql = table === 'agent_interactions' ? INTERACTIONS_BATCH : TELEMETRY_BATCH;
  let deleted = 0;
  let keysDeleted = 0;
  for (const { agent_id } of agents) {
    for (;;) {
      if (limits.expired()) return { partition, deleted, keysDeleted, complete: false };
      const { rows } = await inLockLimitedTransaction<{ rows: number; keys: number }>(client, limits, sql, [limits.batchRows, agent_id, cutoff]);
      const n = rows[0]?.rows ?? 0;
      deleted += n;
      keysDeleted += rows[0]?.keys ?? 0;
      if (n < limits.batchRows) break;
    }
  }
  return { partition, deleted, keysDeleted, complete: true };
}

const pick = (partition: string): string =>
  `DELETE FROM ${partition} WHERE ctid = ANY (ARRAY (SELECT ctid FROM ${partition} WHERE agent_id = $2 AND time < $3::timestamptz LIMIT $1))`;

const INTERACTIONS_BATCH = `WITH gone AS (${pick('agent_interactions_default')} RETURNING agent_id, nonce, time),
  keys AS (
    DELETE FROM agent_interaction_keys k USING gone g
     WHERE k.agent_id = g.agent_id AND k.nonce = g.nonce AND k.time = g.time
    RETURNING 1)
  SELECT (SELECT count(*) FROM gone)::int AS rows, (SELECT count(*) FROM keys)::int AS keys`;

const TELEMETRY_BATCH = `WITH gone AS (${pick('agent_telemetry_default')} RETURNING 1)
  SELECT (SELECT count(*) FROM gone)::int AS rows, 0 AS keys`;
