import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMonthlyPartitions, listMonthlyPartitions } from '../../src/database/index.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_RETENTION, RetentionJob } from '../../src/retention/index.js';
import type { TestAgent } from '../helpers/agent.js';
import { cell, insertBucketRow, insertHourRow } from './rollup-fixtures.js';
import { apiKeyWithScopes, errorCode, errorMessage, seedAgent, startReadServer, withKey, type ReadServer } from './support.js';

/*
 * Reads after retention (docs/read-api.md §7): the raw rows of March 2026 are dropped with
 * their partition on 2026-07-15 (90 days), while the hourly and daily rollups, kept 400 days,
 * still answer March's metrics exactly; windows whose buckets are no longer kept are refused
 * rather than answered with zeros.
 */
const NOW = Date.parse('2026-07-15T12:30:00Z');
const MARCH_DAY = new Date('2026-03-10T00:00:00Z');
const MARCH_HOUR = new Date('2026-03-10T10:00:00Z');

let s: ReadServer;
let key: string;
let agent: TestAgent;

interface Metrics {
  from: string;
  to: string;
  complete_through: string;
  total_requests: number;
  total_spend_atomic: string;
  chart_data: { bucket: string; requests: number }[];
}

beforeAll(async () => {
  s = await startReadServer('read_retention', { clock: () => NOW });
  key = await apiKeyWithScopes(s.pool, 'tenant-r', ['read']);
  agent = await seedAgent(s.pool, 'tenant-r');
  const c = await s.pool.connect();
  try {
    await ensureMonthlyPartitions(c, MARCH_DAY);
  } finally {
    c.release();
  }
  // March: 3 raw interactions, and what the folder made of them (one hour row, one day row).
  await s.pool.query(
    `INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms, amount_atomic)
     SELECT $1::timestamptz + g * interval '1 minute', $2, 'v1', g, true, 10 * g, 100 FROM generate_series(1, 3) g`,
    [MARCH_HOUR, agent.agentId],
  );
  await s.pool.query(`INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM agent_interactions`);
  await insertHourRow(s.pool, agent.agentId, MARCH_HOUR, [cell('v1', [10, 20, 30], 300n)]);
  await insertBucketRow(s.pool, 'agent_stats_daily', agent.agentId, MARCH_DAY, cell('v1', [10, 20, 30], 300n));
  // Minute rows: one in March (older than the 7 days of minute rollups), one yesterday.
  await insertBucketRow(s.pool, 'agent_stats_minute', agent.agentId, new Date('2026-03-10T10:01:00Z'), cell('v1', [10], 100n));
  await insertBucketRow(s.pool, 'agent_stats_minute', agent.agentId, new Date('2026-07-14T10:01:00Z'), cell('v1', [7], 5n));

  const run = await s.pool.connect();
  try {
    const job = new RetentionJob({ policy: DEFAULT_RETENTION, lockTimeoutMs: 5_000, statementTimeoutMs: 60_000, batchRows: 100, maxRunMs: 60_000 }, createLogger('silent'));
    const r = await job.run(run, NOW);
    expect(r.partitions.map((p) => p.name)).toContain('agent_interactions_y2026m03');
    expect((await listMonthlyPartitions(run, 'agent_interactions')).map((p) => p.name)).not.toContain('agent_interactions_y2026m03');
  } finally {
    run.release();
  }
}, 60_000);

afterAll(async () => {
  await s?.close();
});

const metrics = (query: string) => withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${agent.agentId}&${query}`, key);

describe('reads after retention (docs/read-api.md §7)', () => {
  it('history no longer has the dropped rows', async () => {
    const a = await withKey(s.baseUrl, 'GET', `/v1/agent/history?agent_id=${agent.agentId}`, key);
    expect(a.status).toBe(200);
    expect((a.json as { data: unknown[] }).data).toEqual([]);
  });

  it('metrics of the dropped month still come whole from the daily and hourly rollups, with complete_through', async () => {
    const month = await metrics('from=2026-03-01T00:00:00Z&to=2026-03-31T00:00:00Z');
    expect(month.status).toBe(200);
    const m = month.json as Metrics;
    expect(m.total_requests).toBe(3);
    expect(m.total_spend_atomic).toBe('300');
    expect(Date.parse(m.complete_through)).toBeGreaterThan(0);
    const day = await metrics('from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z');
    expect(day.status).toBe(200);
    expect((day.json as Metrics).chart_data.find((b) => b.bucket === '2026-03-10T10:00:00.000Z')?.requests).toBe(3);
  });

  it('a minute window older than the minute rollups kept is refused, naming from and the retention', async () => {
    const old = await metrics('from=2026-03-10T10:00:00Z&to=2026-03-10T11:00:00Z');
    expect(old.status).toBe(400);
    expect(errorCode(old)).toBe('invalid_query');
    expect(errorMessage(old)).toContain("'from'");
    expect(errorMessage(old)).toContain('7 days');
    const vendors = await withKey(s.baseUrl, 'GET', `/v1/agent/vendors?agent_id=${agent.agentId}&from=2026-03-10T10:00:00Z&to=2026-03-10T11:00:00Z`, key);
    expect(errorCode(vendors)).toBe('invalid_query');
    const recent = await metrics('from=2026-07-14T10:00:00Z&to=2026-07-14T11:00:00Z');
    expect(recent.status).toBe(200);
    expect((recent.json as Metrics).total_requests).toBe(1);
    // The oldest minute still kept whole: the one holding the cutoff (7 days before NOW).
    expect((await metrics('from=2026-07-08T12:30:00Z&to=2026-07-08T13:00:00Z')).status).toBe(200);
    expect((await metrics('from=2026-07-08T12:29:00Z&to=2026-07-08T13:00:00Z')).status).toBe(400);
  });

  it('an hourly or daily window older than the rollups kept is refused', async () => {
    // 400 days before NOW is 2025-06-10 12:30: its hour is the oldest kept whole.
    expect((await metrics('from=2025-06-10T12:00:00Z&to=2025-06-12T00:00:00Z')).status).toBe(200);
    const old = await metrics('from=2025-06-10T11:59:00Z&to=2025-06-12T00:00:00Z');
    expect(old.status).toBe(400);
    expect(errorMessage(old)).toContain('400 days');
  });
});
