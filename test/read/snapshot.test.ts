/**
 * docs/read-api.md §3 "Exactness": while a folder moves pending tallies into the minute
 * table (delete pending + add to the bucket row, one transaction each), every read sees
 * each tally exactly once: never in both places, never in neither.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cell, insertPending } from './rollup-fixtures.js';
import { apiKeyWithScopes, seedAgent, startReadServer, withKey, type ReadServer } from './support.js';

/** Its windows lie months before the machine's clock: no bucket has expired for this test. */
const KEEP_EVERYTHING = { minuteRollupDays: 36_500, rollupDays: 36_500 };

let s: ReadServer;

beforeAll(async () => {
  s = await startReadServer('read_snapshot', { retention: KEEP_EVERYTHING });
});

afterAll(async () => {
  await s?.close();
});

it('counts every tally once while a folder moves them', async () => {
  const key = await apiKeyWithScopes(s.pool, 'tenant-x', ['read']);
  const agent = await seedAgent(s.pool, 'tenant-x');
  const minute = new Date('2026-05-01T10:07:00Z');
  const tallies = 60;
  for (let i = 0; i < tallies; i++) await insertPending(s.pool, agent.agentId, minute, cell(`v${i % 3}`, [10 + i, 20 + i], 2n ** 55n + BigInt(i)));
  const expectedSpend = (2n ** 55n * BigInt(tallies) + BigInt((tallies * (tallies - 1)) / 2)).toString();

  let folding = true;
  const folder = (async () => {
    const client = await s.pool.connect();
    try {
      for (;;) {
        await client.query('BEGIN');
        const { rows } = await client.query(
          `DELETE FROM rollup_pending WHERE id = (SELECT min(id) FROM rollup_pending WHERE entity_id = $1)
           RETURNING vendor_id, minute, total_requests, successful_requests, failed_requests, total_spend_atomic, latency_sum_ms`,
          [agent.agentId],
        );
        const r = rows[0];
        if (r !== undefined) {
          await client.query(
            `INSERT INTO agent_stats_minute AS m (agent_id, bucket, vendor_id, total_requests, successful_requests, failed_requests, total_spend_atomic, latency_sum_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (agent_id, bucket, vendor_id) DO UPDATE SET total_requests = m.total_requests + EXCLUDED.total_requests,
               successful_requests = m.successful_requests + EXCLUDED.successful_requests, failed_requests = m.failed_requests + EXCLUDED.failed_requests,
               total_spend_atomic = m.total_spend_atomic + EXCLUDED.total_spend_atomic, latency_sum_ms = m.latency_sum_ms + EXCLUDED.latency_sum_ms`,
            [agent.agentId, r.minute, r.vendor_id, r.total_requests, r.successful_requests, r.failed_requests, r.total_spend_atomic, r.latency_sum_ms],
          );
        }
        await client.query('COMMIT');
        if (r === undefined) break;
      }
    } finally {
      client.release();
      folding = false;
    }
  })();

  let reads = 0;
  let sawBoth = false;
  while (folding || reads < 5) {
    const [m, v] = await Promise.all([
      withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${agent.agentId}&from=2026-05-01T10:00:00Z&to=2026-05-01T11:00:00Z`, key),
      withKey(s.baseUrl, 'GET', `/v1/agent/vendors?agent_id=${agent.agentId}&from=2026-05-01T10:00:00Z&to=2026-05-01T11:00:00Z`, key),
    ]);
    const metrics = m.json as { total_requests: number; total_spend_atomic: string };
    expect(metrics.total_requests).toBe(tallies * 2);
    expect(metrics.total_spend_atomic).toBe(expectedSpend);
    const vendors = (v.json as { vendors: { request_count: number; spend_atomic: string }[] }).vendors;
    expect(vendors.reduce((a, x) => a + x.request_count, 0)).toBe(tallies * 2);
    expect(vendors.reduce((a, x) => a + BigInt(x.spend_atomic), 0n).toString()).toBe(expectedSpend);
    const left = await s.pool.query('SELECT count(*)::int AS n FROM rollup_pending');
    if (left.rows[0].n > 0 && left.rows[0].n < tallies) sawBoth = true;
    reads++;
  }
  await folder;
  expect(reads).toBeGreaterThan(5);
  // The reads overlapped the fold: some saw tallies on both sides of it.
  expect(sawBoth).toBe(true);
  const { rows } = await s.pool.query('SELECT count(*)::int AS n FROM rollup_pending');
  expect(rows[0].n).toBe(0);
});
