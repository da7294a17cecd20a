import type pg from 'pg';
import type { RetentionLimits } from './retention-limits.js';

export interface KeysPurge {
  readonly deleted: number;
  /** False when the run's deadline came first: the detached table stays for the next run. */
  readonly complete: boolean;
}

/**
 * Deletes the agent_interaction_keys rows of the interactions in `detached` (a detached
 * partition of agent_interactions): each key holds its row's time (schema/postgres/008), so a
 * key goes only when it stands for a row of this table. agent_interactions has no index that
 * covers a whole partition in order (schema/postgres/014), so the table is walked by block
 * ranges of its heap (a TID range scan reads only those blocks), about `batchRows` rows at a
 * time, each batch its own transaction using the keys' primary key: no scan of the keys table
 * and no long lock. Nothing writes into a detached table, so its blocks do not move.
 */
export async function purgeInteractionKeys(client: pg.ClientBase, detached: string, limits: RetentionLimits): Promise<KeysPurge> {
  const size = await client.query<{ blocks: number; first_block_rows: number }>(
    `SELECT (pg_relation_size('${detached}') / current_setting('block_size')::int)::int AS blocks,
            (SELECT count(*) FROM ${detached} WHERE ctid < '(1,0)'::tid)::int AS first_block_rows`,
  );
  const blocks = size.rows[0]?.blocks ?? 0;
  // The first block's row count stands for every block's: rows of one month are alike in size.
  const step = Math.max(1, Math.floor(limits.batchRows / Math.max(1, size.rows[0]?.first_block_rows ?? 1)));
  let deleted = 0;
  for (let block = 0; block < blocks; block += step) {
    if (limits.expired()) return { deleted, complete: false };
    const { rows } = await client.query<{ deleted: number }>(
      `WITH gone AS (
         DELETE FROM agent_interaction_keys k USING ${detached} b
          WHERE b.ctid >= $1::tid AND b.ctid < $2::tid
            AND k.agent_id = b.agent_id AND k.nonce = b.nonce AND k.time = b.time
          RETURNING 1)
       SELECT count(*)::int AS deleted FROM gone`,
      [`(${block},0)`, `(${block + step},0)`],
    );
    deleted += rows[0]?.deleted ?? 0;
  }
  return { deleted, complete: true };
}
