import type pg from 'pg';
import type { RetentionLimits } from './retention-limits.js';

export interface KeysPurge {
  readonly deleted: number;
  /** False when the run's deadline came first: the detached table stays for the next run. */
  readonly complete: boolean;
}

interface BatchRow {
  deleted: number;
  seen: number;
  last_time: string | null;
  last_agent: string | null;
  last_nonce: string | null;
}

/**
 * Deletes the agent_interaction_keys rows of the interactions in `detached` (a detached
 * partition of agent_interactions): each key holds its row's time (schema/postgres/008), so a
 * key goes only when it stands for a row of this table. The table is walked in the order of its
 * primary key (time, agent_id, nonce), `batchRows` at a time, each batch its own transaction
 * using the keys' primary key: no scan of the keys table and no long lock.
 */
export async function purgeInteractionKeys(client: pg.ClientBase, detached: string, limits: RetentionLimits): Promise<KeysPurge> {
  let cursor: [string, string, string] = ['-infinity', '', '-9223372036854775808'];
  let deleted = 0;
  for (;;) {
    if (limits.expired()) return { deleted, complete: false };
    const { rows } = await client.query<BatchRow>(
      `WITH batch AS (
         SELECT time, agent_id, nonce FROM ${detached}
          WHERE (time, agent_id, nonce) > ($1::timestamptz, $2::varchar, $3::bigint)
          ORDER BY time, agent_id, nonce LIMIT $4),
       gone AS (
         DELETE FROM agent_interaction_keys k USING batch b
          WHERE k.agent_id = b.agent_id AND k.nonce = b.nonce AND k.time = b.time
          RETURNING 1),
       last AS (SELECT time, agent_id, nonce FROM batch ORDER BY time DESC, agent_id DESC, nonce DESC LIMIT 1)
       SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM batch)::int AS seen,
              (SELECT time::text FROM last) AS last_time, (SELECT agent_id FROM last) AS last_agent,
              (SELECT nonce::text FROM last) AS last_nonce`,
      [...cursor, limits.batchRows],
    );
    const r = rows[0];
    if (r === undefined) return { deleted, complete: true };
    deleted += r.deleted;
    if (r.seen < limits.batchRows || r.last_time === null || r.last_agent === null || r.last_nonce === null) {
      return { deleted, complete: true };
    }
    cursor = [r.last_time, r.last_agent, r.last_nonce];
  }
}
