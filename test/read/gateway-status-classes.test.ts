/**
 * docs/read-api.md §3: a gateway's status classes and verified payments. Gateway events with
 * every status class and verified, unverified and unstated payments go through the real
 * ingest path without HTTP (worker task with rollup groups, commit scheduler, COPY sink; and
 * a spooled batch through the staged path). GET /v1/gateway/metrics, for minute, hour and day
 * buckets, then equals the counts of gateway_telemetry exactly: with every tally pending,
 * partly folded, and all folded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FoldMergers, foldRound } from '../../src/rollups/fold-round.js';
import { emptyBatch, PostgresCopySink } from '../../src/sinks/postgres/index.js';
import { gatewayEvent, rfc3339, type CloudEvent } from '../helpers/agent.js';
import { pipeline, task } from '../sinks/postgres/support.js';
import { apiKeyWithScopes, startReadServer, withKey, type ReadServer } from './support.js';

const TENANT = 'tenant-classes';
const OTHER = 'tenant-classes-other';
const STATUSES = [101, 200, 201, 204, 301, 304, 400, 402, 404, 429, 500, 502, 503, 599];

let s: ReadServer;
let p: ReturnType<typeof pipeline>;
let key: string;

beforeAll(async () => {
  s = await startReadServer('read_gateway_classes');
  p = pipeline(s.db.url);
  key = await apiKeyWithScopes(s.pool, TENANT, ['read']);
});

afterAll(async () => {
  await p?.pool.end();
  await s?.close();
});

interface Classes {
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

interface Point {
  bucket: string;
  requests: number;
  status_classes: Classes;
  payments_verified: number;
}

interface Answer {
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  status_classes: Classes;
  payments_verified: number;
  chart_data: Point[];
}

/** The event `i` of a deterministic mix: statuses of every class, payments verified, refused or unstated, over a few minutes. */
function event(gatewayId: string, i: number): CloudEvent {
  const verified = i % 3 === 0 ? true : i % 3 === 1 ? false : undefined;
  const e = gatewayEvent({
    time: rfc3339(new Date(Date.now() - (5 + (i % 7)) * 60_000)),
    data: { gateway_id: gatewayId, vendor_id: `vendor-${i % 2}`, status_code: STATUSES[(i * 5) % STATUSES.length], latency_ms: 10 + i },
  });
  const data = e.data as Record<string, unknown>;
  if (verified === undefined) delete data.payment_verified;
  else data.payment_verified = verified;
  return e;
}

/** What gateway_telemetry holds for the gateway of TENANT, per minute bucket start and in total. */
async function truth(gatewayId: string): Promise<{ total: Answer; perMinute: Map<string, Classes & { verified: number }> }> {
  const { rows } = await s.pool.query<{ minute: Date; n: number; ok: number; c2: number; c3: number; c4: number; c5: number; v: number }>(
    `SELECT date_trunc('minute', time) AS minute, count(*)::int AS n, count(*) FILTER (WHERE status_code < 400)::int AS ok,
            count(*) FILTER (WHERE status_code / 100 = 2)::int AS c2, count(*) FILTER (WHERE status_code / 100 = 3)::int AS c3,
            count(*) FILTER (WHERE status_code / 100 = 4)::int AS c4, count(*) FILTER (WHERE status_code / 100 = 5)::int AS c5,
            count(*) FILTER (WHERE payment_verified)::int AS v
     FROM gateway_telemetry WHERE tenant_id = $1 AND gateway_id = $2 GROUP BY 1`,
    [TENANT, gatewayId],
  );
  const total: Answer = { total_requests: 0, successful_requests: 0, failed_requests: 0, status_classes: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, payments_verified: 0, chart_data: [] };
  const perMinute = new Map<string, Classes & { verified: number }>();
  for (const r of rows) {
    total.total_requests += r.n;
    total.successful_requests += r.ok;
    total.failed_requests += r.n - r.ok;
    total.status_classes['2xx'] += r.c2;
    total.status_classes['3xx'] += r.c3;
    total.status_classes['4xx'] += r.c4;
    total.status_classes['5xx'] += r.c5;
    total.payments_verified += r.v;
    perMinute.set(r.minute.toISOString(), { '2xx': r.c2, '3xx': r.c3, '4xx': r.c4, '5xx': r.c5, verified: r.v });
  }
  return { total, perMinute };
}

async function read(gatewayId: string, range: string): Promise<Answer> {
  const a = await withKey(s.baseUrl, 'GET', `/v1/gateway/metrics?gateway_id=${gatewayId}&range=${range}`, key);
  expect(a.status).toBe(200);
  return a.json as Answer;
}

/** Every window size equals the stored rows: totals, and the chart's buckets sum to them. */
async function expectExact(gatewayId: string): Promise<void> {
  const t = await truth(gatewayId);
  expect(t.total.total_requests).toBeGreaterThan(0);
  for (const range of ['1h', '24h', '30d']) {
    const m = await read(gatewayId, range);
    const { chart_data: _, ...expected } = t.total;
    expect(m, range).toMatchObject(expected);
    const sum = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    let verified = 0;
    for (const point of m.chart_data) {
      for (const c of ['2xx', '3xx', '4xx', '5xx'] as const) sum[c] += point.status_classes[c];
      verified += point.payments_verified;
    }
    expect(sum, range).toEqual(t.total.status_classes);
    expect(verified, range).toBe(t.total.payments_verified);
    if (range !== '1h') continue;
    // Minute buckets: each one equals its minute of raw rows.
    for (const point of m.chart_data) {
      const want = t.perMinute.get(point.bucket) ?? { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, verified: 0 };
      const { verified: v, ...classes } = want;
      expect(point.status_classes, point.bucket).toEqual(classes);
      expect(point.payments_verified, point.bucket).toBe(v);
    }
  }
}

async function fold(maxRows: number): Promise<number> {
  const c = await s.pool.connect();
  try {
    return (await foldRound(c, maxRows, new FoldMergers())).rows;
  } finally {
    c.release();
  }
}

describe('GET /v1/gateway/metrics status classes and verified payments', () => {
  it('equal the stored gateway rows exactly, pending, partly folded and folded, on the COPY and the staged path', async () => {
    const mine = Array.from({ length: 90 }, (_, i) => event('gw-classes', i));
    // The same gateway id under another tenant: never counted here.
    const theirs = Array.from({ length: 20 }, (_, i) => event('gw-classes', i + 1));
    const units = [
      task([{ tenant: TENANT, events: mine.slice(0, 40) }, { tenant: OTHER, events: theirs }]),
      // A gateway's retry: already stored, neither stored nor counted again.
      task([{ tenant: TENANT, events: [...mine.slice(30, 60)] }]),
    ];
    for (const u of units) p.scheduler.add(u);
    await p.answered(3);
    for (const u of units) for (const t of u.all) expect(p.answers.get(t.id)?.status).toBe(202);

    // A spooled batch has no worker groups: the staged path tallies what it inserts.
    const spooled = task([{ tenant: TENANT, events: mine.slice(50) }]);
    const batch = emptyBatch();
    batch.chunks.gateway_telemetry.push(spooled.out.gateway);
    batch.rows.gateway_telemetry = spooled.out.gatewayRows;
    batch.groups = null;
    expect(await new PostgresCopySink(p.pool).write(batch)).toMatchObject({ ok: true, refused: [] });

    const stored = await s.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM gateway_telemetry WHERE tenant_id = $1', [TENANT]);
    expect(stored.rows[0]?.n).toBe(90);
    await expectExact('gw-classes');

    // Part of the tallies folded, the rest still pending.
    expect(await fold(3)).toBeGreaterThan(0);
    const pending = await s.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_pending');
    expect(pending.rows[0]?.n).toBeGreaterThan(0);
    await expectExact('gw-classes');

    while ((await fold(1000)) > 0);
    const folded = await s.pool.query<{ n: string }>(
      `SELECT (SELECT sum(status_2xx + status_3xx + status_4xx + status_5xx) FROM gateway_stats_minute)::text
              || '/' || (SELECT sum(status_2xx + status_3xx + status_4xx + status_5xx) FROM gateway_stats_hourly)::text
              || '/' || (SELECT sum(status_2xx + status_3xx + status_4xx + status_5xx) FROM gateway_stats_daily)::text AS n`,
    );
    // Every stored row of both tenants with a status of 200 or more is in one class, once per table.
    const classed = await s.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM gateway_telemetry WHERE status_code >= 200');
    const n = classed.rows[0]?.n as string;
    expect(folded.rows[0]?.n).toBe(`${n}/${n}/${n}`);
    await expectExact('gw-classes');
  });
});
