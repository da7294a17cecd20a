/** docs/read-api.md §3 gateway metrics: the agent metrics' rules over the gateway rollups, per tenant. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactPercentile, withinPrecision } from '../rollups/support.js';
import { cell, histogramOf, insertPending, latencies, type Cell } from './rollup-fixtures.js';
import { apiKeyWithScopes, errorCode, seedAgent, signed, startReadServer, withKey, type ReadServer } from './support.js';

/** Its windows lie months before the machine's clock: no bucket has expired for this test. */
const KEEP_EVERYTHING = { minuteRollupDays: 36_500, rollupDays: 36_500 };

let s: ReadServer;

beforeAll(async () => {
  s = await startReadServer('read_gateway', { retention: KEEP_EVERYTHING });
});

afterAll(async () => {
  await s?.close();
});

async function minuteRow(tenant: string, gateway: string, bucket: Date, c: Cell): Promise<void> {
  const sum = c.latencies.reduce((a, b) => a + b, 0);
  await s.pool.query(
    `INSERT INTO gateway_stats_minute (tenant_id, gateway_id, bucket, vendor_id, total_requests, successful_requests, failed_requests,
                                       total_spend_atomic, latency_sum_ms, max_latency_ms, latency_histogram)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [tenant, gateway, bucket, c.vendor, c.latencies.length, c.latencies.length - c.failures, c.failures, c.spend.toString(), sum, Math.max(...c.latencies), histogramOf(c.latencies)],
  );
}

interface GatewayAnswer {
  gateway_id: string;
  from: string;
  total_requests: number;
  failed_requests: number;
  total_spend_atomic: string;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
  chart_data: { requests: number; spend_atomic: string }[];
}

describe('GET /v1/gateway/metrics', () => {
  it('sums the tenant gateway minute rows and pending tallies exactly; another tenant with the same gateway id sees its own', async () => {
    const keyA = await apiKeyWithScopes(s.pool, 'tenant-ga', ['read']);
    const keyB = await apiKeyWithScopes(s.pool, 'tenant-gb', ['read']);
    const folded = cell('v1', latencies(120, 41), 2n ** 62n, 7);
    const pendingRaw = cell('v2', latencies(30, 42), 5n, 2);
    await minuteRow('tenant-ga', 'gw-1', new Date('2026-04-01T08:10:00Z'), folded);
    await insertPending(s.pool, 'gw-1', new Date('2026-04-01T08:10:00Z'), pendingRaw, 'raw', 'tenant-ga');
    await minuteRow('tenant-gb', 'gw-1', new Date('2026-04-01T08:10:00Z'), cell('v1', [5, 6], 11n));
    await insertPending(s.pool, 'gw-1', new Date('2026-04-01T08:20:00Z'), cell('v1', [7], 13n), 'raw', 'tenant-gb');

    const window = 'from=2026-04-01T08:00:00Z&to=2026-04-01T09:00:00Z';
    const a = await withKey(s.baseUrl, 'GET', `/v1/gateway/metrics?gateway_id=gw-1&${window}`, keyA);
    expect(a.status).toBe(200);
    const m = a.json as GatewayAnswer;
    expect(m.chart_data).toHaveLength(60);
    expect(m.total_requests).toBe(150);
    expect(m.failed_requests).toBe(9);
    expect(m.total_spend_atomic).toBe((2n ** 62n + 5n).toString());
    const all = [...folded.latencies, ...pendingRaw.latencies];
    expect(withinPrecision(m.p50_latency_ms as number, exactPercentile(all, 50))).toBe(true);
    expect(withinPrecision(m.p99_latency_ms as number, exactPercentile(all, 99))).toBe(true);
    expect(m.chart_data[10]).toMatchObject({ requests: 150 });

    const b = (await withKey(s.baseUrl, 'GET', `/v1/gateway/metrics?gateway_id=gw-1&${window}`, keyB)).json as GatewayAnswer;
    expect(b.total_requests).toBe(3);
    expect(b.total_spend_atomic).toBe('24');
  });

  it('needs gateway_id and a read key; agents cannot call it', async () => {
    const ingest = await apiKeyWithScopes(s.pool, 'tenant-ga', ['ingest']);
    const read = await apiKeyWithScopes(s.pool, 'tenant-ga', ['read']);
    expect(errorCode(await withKey(s.baseUrl, 'GET', '/v1/gateway/metrics?range=1h', read))).toBe('invalid_query');
    expect(errorCode(await withKey(s.baseUrl, 'GET', '/v1/gateway/metrics?gateway_id=gw-1', ingest))).toBe('forbidden');
    // Every bucket size reads its own tables.
    for (const range of ['1h', '24h', '30d']) {
      expect((await withKey(s.baseUrl, 'GET', `/v1/gateway/metrics?gateway_id=gw-1&range=${range}`, read)).status).toBe(200);
    }
    const agent = await seedAgent(s.pool, 'tenant-ga');
    expect(errorCode(await signed(s.baseUrl, 'GET', '/v1/gateway/metrics?gateway_id=gw-1', agent))).toBe('forbidden');
  });
});
