import { afterAll, beforeAll, expect, it } from 'vitest';
import { purgeInteractionKeys } from '../../src/retention/interaction-keys-purge.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

/*
 * Retention's key purge walks a detached partition of agent_interactions by block ranges
 * (the table has no index over a whole partition in order since schema 014). Over a table of
 * many blocks, in batches far smaller than the table, it deletes exactly the keys of the
 * table's rows, whatever order the rows were written in, and a run stopped by its deadline
 * leaves the rest for the next one.
 */

let m: MigratedDatabase;
beforeAll(async () => {
  m = await createMigratedDatabase('interaction_keys_purge');
  // A table shaped like a detached partition, and keys for its rows and for rows kept elsewhere.
  await m.pool.query('CREATE TABLE detached_y2026m01 (LIKE agent_interactions INCLUDING DEFAULTS)');
  await m.pool.query(
    `WITH r AS (SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' + (g * 7919 % 5000) * interval '1 second' AS time,
                       'agent-' || (g % 13) AS agent_id, g AS nonce FROM generate_series(1, 5000) g),
          k AS (INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM r)
     INSERT INTO detached_y2026m01 (time, agent_id, vendor_id, nonce, success, latency_ms, error_message)
     SELECT time, agent_id, 'vendor', nonce, true, 10, repeat('x', 100) FROM r`,
  );
  // The same agents and nonces at other times, and other nonces: keys of rows that stay.
  await m.pool.query(
    `INSERT INTO agent_interaction_keys (agent_id, nonce, time)
     SELECT 'agent-' || (g % 13), g, TIMESTAMPTZ '2026-02-01 00:00:00+00' FROM generate_series(5001, 5500) g`,
  );
});
afterAll(async () => {
  await m?.close();
});

async function keys(): Promise<number> {
  return (await m.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM agent_interaction_keys')).rows[0]?.n ?? -1;
}

it('deletes the keys of every row of the detached table, batch by batch, and only those', async () => {
  const blocks = (await m.pool.query<{ n: number }>("SELECT (pg_relation_size('detached_y2026m01') / 8192)::int AS n")).rows[0]?.n ?? 0;
  expect(blocks).toBeGreaterThan(20);
  const c = await m.pool.connect();
  try {
    // A deadline after three batches: the run says it is incomplete and has deleted some.
    let batches = 0;
    const short = { lockTimeoutMs: 1000, statementTimeoutMs: 10_000, batchRows: 100, expired: () => batches++ >= 3 };
    const first = await purgeInteractionKeys(c, 'detached_y2026m01', short);
    expect(first.complete).toBe(false);
    expect(first.deleted).toBeGreaterThan(0);
    expect(first.deleted).toBeLessThan(5000);
    expect(await keys()).toBe(5500 - first.deleted);

    const rest = await purgeInteractionKeys(c, 'detached_y2026m01', { ...short, expired: () => false });
    expect(rest).toEqual({ deleted: 5000 - first.deleted, complete: true });
  } finally {
    c.release();
  }
  expect(await keys()).toBe(500);
  const left = await m.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM agent_interaction_keys WHERE time = '2026-02-01 00:00:00+00'");
  expect(left.rows[0]?.n).toBe(500);
});
