/**
 * docs/read-api.md §3 metrics and vendors: figures equal the rows written into the folded
 * rollup tables plus the pending tallies, exactly for counts and spend, within HDR
 * precision for percentiles, with every bucket of the window present.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentMetrics, ChartPoint } from '../../src/protocol/index.js';
import { exactPercentile, withinPrecision } from '../rollups/support.js';
import { cell, insertBucketRow, insertHourRow, insertPending, latencies, type Cell } from './rollup-fixtures.js';
import { apiKeyWithScopes, seedAgent, startReadServer, withKey, type ReadServer } from './support.js';

/** The server's clock: 12:30 UTC, so "24h" is the hours from 12:00 the day before to 13:00. */
const NOW = Date.parse('2026-03-05T12:30:00Z');
const BIG = 2n ** 60n + 7n;

let s: ReadServer;
let key: string;

beforeAll(async () => {
  s = await startReadServer('read_metrics', { clock: () => NOW });
  key = await apiKeyWithScopes(s.pool, 'tenant-m', ['read']);
});

afterAll(async () => {
  await s?.close();
});

async function metrics(agentId: string, window: string): Promise<AgentMetrics> {
  const r = await withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${agentId}&${window}`, key);
  expect(r.status).toBe(200);
  return r.json as AgentMetrics;
}

function expectLatencies(p50: number | null, p99: number | null, values: readonly number[]): void {
  expect(withinPrecision(p50 as number, exactPercentile(values, 50)), `p50 ${p50} vs ${exactPercentile(values, 50)}`).toBe(true);
  expect(withinPrecision(p99 as number, exactPercentile(values, 99)), `p99 ${p99} vs ${exactPercentile(values, 99)}`).toBe(true);
}

/** What a group of cells adds up to. */
function truth(cells: readonly Cell[]) {
  const all = cells.flatMap((c) => c.latencies);
  const failures = cells.reduce((a, c) => a + c.failures, 0);
  return { all, requests: all.length, failures, spend: cells.reduce((a, c) => a + c.spend, 0n) };
}

describe('GET /v1/agent/metrics', () => {
  it('minute buckets: folded minute rows plus pending tallies, every bucket present, exact beyond 2^53', async () => {
    const agent = await seedAgent(s.pool, 'tenant-m');
    const other = await seedAgent(s.pool, 'tenant-m');
    const at = (hhmm: string): Date => new Date(`2026-03-01T${hhmm}:00Z`);
    const m05a = cell('v1', latencies(300, 1), BIG, 4);
    const m05b = cell('v2', latencies(50, 2), 1000n, 1);
    const m30 = cell('v1', latencies(80, 3), 5n);
    const p05 = cell('v1', latencies(40, 4), BIG, 2); // pending, same minute as folded rows
    const p59 = cell('v2', latencies(25, 5), 77n); // pending, as a histogram
    await insertBucketRow(s.pool, 'agent_stats_minute', agent.agentId, at('10:05'), m05a);
    await insertBucketRow(s.pool, 'agent_stats_minute', agent.agentId, at('10:05'), m05b);
    await insertBucketRow(s.pool, 'agent_stats_minute', agent.agentId, at('10:30'), m30);
    await insertPending(s.pool, agent.agentId, new Date('2026-03-01T10:05:00Z'), p05, 'raw');
    await insertPending(s.pool, agent.agentId, new Date('2026-03-01T10:59:00Z'), p59, 'histogram');
    // Outside the window, or another agent's: not counted.
    await insertPending(s.pool, agent.agentId, at('11:00'), cell('v1', [1, 2], 10n));
    await insertBucketRow(s.pool, 'agent_stats_minute', agent.agentId, at('09:59'), cell('v1', [3], 10n));
    await insertBucketRow(s.pool, 'agent_stats_minute', other.agentId, at('10:05'), cell('v1', [4], 10n));

    const m = await metrics(agent.agentId, 'from=2026-03-01T10:00:30Z&to=2026-03-01T11:00:00Z');
    expect(m.from).toBe('2026-03-01T10:00:00.000Z');
    expect(m.to).toBe('2026-03-01T11:00:00.000Z');
    expect(m.chart_data).toHaveLength(60);
    expect(m.chart_data.map((c) => Date.parse(c.bucket))).toEqual(Array.from({ length: 60 }, (_, i) => at('10:00').getTime() + i * 60_000));

    const t = truth([m05a, m05b, m30, p05, p59]);
    expect(m.total_requests).toBe(t.requests);
    expect(m.failed_requests).toBe(t.failures);
    expect(m.successful_requests).toBe(t.requests - t.failures);
    expect(m.total_spend_atomic).toBe(t.spend.toString());
    expect(BigInt(m.total_spend_atomic)).toBeGreaterThan(2n ** 61n);
    expect(m.avg_latency_ms).toBeCloseTo(t.all.reduce((a, b) => a + b, 0) / t.requests, 9);
    expect(m.success_rate).toBeCloseTo((t.requests - t.failures) / t.requests, 12);
    expectLatencies(m.p50_latency_ms, m.p99_latency_ms, t.all);

    const b05 = m.chart_data[5] as ChartPoint;
    const t05 = truth([m05a, m05b, p05]);
    expect(b05).toMatchObject({ requests: t05.requests, failed_requests: t05.failures, spend_atomic: t05.spend.toString() });
    expectLatencies(b05.p50_latency_ms, b05.p99_latency_ms, t05.all);
    expect(m.chart_data[59]).toMatchObject({ requests: 25, spend_atomic: '77' });
    expect(m.chart_data[1]).toEqual({ bucket: '2026-03-01T10:01:00.000Z', requests: 0, failed_requests: 0, spend_atomic: '0', p50_latency_ms: null, p99_latency_ms: null });
    const sumOfChart = m.chart_data.reduce((a, c) => a + BigInt(c.spend_atomic), 0n);
    expect(sumOfChart.toString()).toBe(m.total_spend_atomic);
  });

  it('hour buckets for 24h: hour rows with vendor_breakdown plus pending tallies; burn rate and runway from the latest balance', async () => {
    const agent = await seedAgent(s.pool, 'tenant-m');
    const h = (iso: string): Date => new Date(iso);
    const first = [cell('v1', latencies(200, 11), BIG, 3), cell('v2', latencies(60, 12), 900n)];
    const mid = [cell('v2', latencies(120, 13), 40n, 10)];
    const pendingMid = cell('v2', latencies(30, 14), 60n, 1);
    const pendingNow = cell('v3', latencies(10, 15), 1_000_000n);
    await insertHourRow(s.pool, agent.agentId, h('2026-03-04T12:00:00Z'), first);
    await insertHourRow(s.pool, agent.agentId, h('2026-03-05T03:00:00Z'), mid);
    await insertPending(s.pool, agent.agentId, h('2026-03-05T03:41:00Z'), pendingMid);
    await insertPending(s.pool, agent.agentId, h('2026-03-05T12:10:00Z'), pendingNow);
    await insertHourRow(s.pool, agent.agentId, h('2026-03-04T11:00:00Z'), [cell('v1', [9], 999n)]); // before the window
    await s.pool.query(
      `INSERT INTO agent_telemetry (time, agent_id, usdc_balance_atomic, sol_balance_lamports) VALUES ($2, $1, 1, 1), ($3, $1, 250000000, 42)`,
      [agent.agentId, h('2026-03-05T10:00:00Z'), h('2026-03-05T12:00:00Z')],
    );

    const m = await metrics(agent.agentId, 'range=24h');
    expect(m.from).toBe('2026-03-04T12:00:00.000Z');
    expect(m.to).toBe('2026-03-05T13:00:00.000Z');
    expect(m.chart_data).toHaveLength(25);
    const t = truth([...first, ...mid, pendingMid, pendingNow]);
    expect(m.total_requests).toBe(t.requests);
    expect(m.failed_requests).toBe(t.failures);
    expect(m.total_spend_atomic).toBe(t.spend.toString());
    expectLatencies(m.p50_latency_ms, m.p99_latency_ms, t.all);
    const b03 = m.chart_data[15] as ChartPoint;
    expect(b03.bucket).toBe('2026-03-05T03:00:00.000Z');
    expect(b03.requests).toBe(150);
    expect(b03.spend_atomic).toBe('100');
    expectLatencies(b03.p50_latency_ms, b03.p99_latency_ms, [...(mid[0] as Cell).latencies, ...pendingMid.latencies]);

    expect(m.balance).toEqual({ usdc_balance_atomic: '250000000', sol_balance_lamports: '42', at: '2026-03-05T12:00:00.000Z' });
    // The burn window: 12:00 the day before until now, 24.5 hours.
    const spanMs = NOW - Date.parse('2026-03-04T12:00:00Z');
    expect(m.burn_rate_atomic_per_hour).toBe(((t.spend * 3_600_000n) / BigInt(spanMs)).toString());
    expect(m.runway_hours).toBeCloseTo((250_000_000 * spanMs) / (Number(t.spend) * 3_600_000), 2);
  });

  it('day buckets beyond 7 days', async () => {
    const agent = await seedAgent(s.pool, 'tenant-m');
    const d1 = cell('v1', latencies(100, 21), 10n);
    const d2 = cell('v1', latencies(100, 22), BIG);
    const p = cell('v2', latencies(20, 23), 3n, 20);
    await insertBucketRow(s.pool, 'agent_stats_daily', agent.agentId, new Date('2026-02-10T00:00:00Z'), d1);
    await insertBucketRow(s.pool, 'agent_stats_daily', agent.agentId, new Date('2026-03-05T00:00:00Z'), d2);
    await insertPending(s.pool, agent.agentId, new Date('2026-03-05T12:29:00Z'), p);
    const m = await metrics(agent.agentId, 'range=30d');
    expect(m.from).toBe('2026-02-03T00:00:00.000Z');
    expect(m.to).toBe('2026-03-06T00:00:00.000Z');
    expect(m.chart_data).toHaveLength(31);
    expect(m.total_requests).toBe(220);
    expect(m.failed_requests).toBe(20);
    expect(m.total_spend_atomic).toBe((BIG + 13n).toString());
    const last = m.chart_data[30] as ChartPoint;
    expect(last).toMatchObject({ bucket: '2026-03-05T00:00:00.000Z', requests: 120, failed_requests: 20 });
    expectLatencies(last.p50_latency_ms, last.p99_latency_ms, [...d2.latencies, ...p.latencies]);
  });

  it('an agent with nothing stored: zeros in every bucket, nulls where nothing can be said', async () => {
    const agent = await seedAgent(s.pool, 'tenant-m');
    const m = await metrics(agent.agentId, 'range=1h');
    // NOW is on a whole minute: the hour is exactly 60 buckets.
    expect(m.chart_data).toHaveLength(60);
    expect(m).toMatchObject({
      total_requests: 0,
      total_spend_atomic: '0',
      success_rate: null,
      avg_latency_ms: null,
      p50_latency_ms: null,
      p99_latency_ms: null,
      balance: null,
      burn_rate_atomic_per_hour: '0',
      runway_hours: null,
    });
    expect(Date.parse(m.complete_through)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('GET /v1/agent/vendors', () => {
  it('per vendor over the window, from vendor_breakdown and pending tallies, by spend then vendor id', async () => {
    const agent = await seedAgent(s.pool, 'tenant-m');
    const a1 = cell('alpha', latencies(90, 31), 500n, 9);
    const b1 = cell('beta', latencies(70, 32), BIG);
    const c1 = cell('gamma', latencies(10, 33), 500n);
    const a2 = cell('alpha', latencies(40, 34), 0n, 1);
    const pb = cell('beta', latencies(15, 35), 1n);
    await insertHourRow(s.pool, agent.agentId, new Date('2026-03-05T01:00:00Z'), [a1, b1]);
    await insertHourRow(s.pool, agent.agentId, new Date('2026-03-05T02:00:00Z'), [c1, a2]);
    await insertPending(s.pool, agent.agentId, new Date('2026-03-05T12:01:00Z'), pb);
    const r = await withKey(s.baseUrl, 'GET', `/v1/agent/vendors?agent_id=${agent.agentId}&range=24h`, key);
    expect(r.status).toBe(200);
    const vendors = (r.json as { vendors: Record<string, unknown>[] }).vendors;
    expect(vendors.map((v) => v.vendor_id)).toEqual(['beta', 'alpha', 'gamma']);
    const alpha = vendors[1] as { request_count: number; failed_requests: number; spend_atomic: string; p50_latency_ms: number; p99_latency_ms: number; success_rate: number };
    expect(alpha).toMatchObject({ request_count: 130, failed_requests: 10, successful_requests: 120, spend_atomic: '500' });
    expect(alpha.success_rate).toBeCloseTo(120 / 130, 12);
    expectLatencies(alpha.p50_latency_ms, alpha.p99_latency_ms, [...a1.latencies, ...a2.latencies]);
    const beta = vendors[0] as { request_count: number; spend_atomic: string; p50_latency_ms: number; p99_latency_ms: number };
    expect(beta).toMatchObject({ request_count: 85, spend_atomic: (BIG + 1n).toString() });
    expectLatencies(beta.p50_latency_ms, beta.p99_latency_ms, [...b1.latencies, ...pb.latencies]);
  });
});
