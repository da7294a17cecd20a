import pg from 'pg';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DegradingExposition } from '../../src/observability/index.js';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * /metrics never answers 500: a collector that throws or hangs is served with its last value
 * (or left out) and counted; PostgreSQL black-holed during scrapes leaves /metrics answering
 * 200 within the collector's time bound, with the outbox gauges stale and the failure counted.
 */

function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('DegradingExposition', () => {
  it('serves the last good value of a failing collector, leaves out one that never worked, and counts both', async () => {
    const registry = new Registry();
    let fail = false;
    new Gauge({
      name: 'flaky',
      help: 'fails when told to',
      registers: [registry],
      collect() {
        if (fail) throw new Error('collector down');
        this.set(42);
      },
    });
    new Gauge({
      name: 'hangs',
      help: 'never answers',
      registers: [registry],
      collect: () => new Promise<void>(() => undefined),
    });
    const steady = new Gauge({ name: 'steady', help: 'plain', registers: [registry] });
    steady.set(7);
    const exposition = new DegradingExposition(registry, 200);

    // What prom-client alone does: one hanging collector hangs the whole exposition.
    const whole = await Promise.race([registry.metrics().then(() => 'answered'), new Promise((r) => setTimeout(() => r('hung'), 300))]);
    expect(whole).toBe('hung');

    const first = await exposition.render();
    expect(sampleOf(first, 'flaky')).toBe(42);
    expect(sampleOf(first, 'steady')).toBe(7);
    expect(first).not.toContain('# TYPE hangs');
    expect(sampleOf(first, 'machpay_metrics_collect_failures_total{source="hangs"}')).toBe(1);

    fail = true;
    // What prom-client alone does with a throwing collector: rejects, which was a 500.
    await expect(registry.metrics()).rejects.toThrow('collector down');
    const second = await exposition.render();
    expect(sampleOf(second, 'flaky'), 'the last good value').toBe(42);
    expect(sampleOf(second, 'steady')).toBe(7);
    expect(sampleOf(second, 'machpay_metrics_collect_failures_total{source="flaky"}')).toBe(1);
    expect(sampleOf(second, 'machpay_metrics_collect_failures_total{source="hangs"}')).toBe(2);
  });
});

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let proxy: TcpProxy;
let rx: RunningReceiver;

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('metrics_degrade'), createTestClickhouseDatabase('metrics_degrade')]);
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port));
  rx = await startReceiver({ DATABASE_URL: proxy.urlThrough(db.url), CLICKHOUSE_URL: ch.url, LOG_LEVEL: 'warn', WORKERS: '1' });
}, 120_000);

afterAll(async () => {
  // Killed, not stopped: connections the black hole left half-answered hold a graceful stop
  // for their timeouts, which is not what this file tests.
  await rx?.kill9();
  await proxy?.close();
  await Promise.all([db?.drop(), ch?.drop()]);
});

describe('/metrics with PostgreSQL gone', () => {
  it('answers 200 within the collector bound, with the outbox gauges stale and the failure counted', async () => {
    // A fold waiting for ClickHouse, an hour old, held by a lock of the test so that the
    // sender skips it: a value the scrape can only read from PostgreSQL.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    let lag: number | undefined;
    try {
      const { rows } = await holder.query<{ id: string }>(`INSERT INTO rollup_clickhouse_outbox (rows, row_count, created_at) VALUES ('[]', 0, now() - interval '1 hour') RETURNING id`);
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM rollup_clickhouse_outbox WHERE id = $1 FOR UPDATE', [rows[0]?.id]);
      const before = await getOnce(`${rx.url}/metrics`, 10_000);
      expect(before.status).toBe(200);
      lag = sampleOf(before.body, 'machpay_clickhouse_outbox_lag_seconds');
      expect(lag, 'outbox lag').toBeGreaterThanOrEqual(3600);
      expect(sampleOf(before.body, 'machpay_clickhouse_outbox_folds')).toBe(1);
    } finally {
      await holder.end();
    }

    proxy.setMode('blackhole');
    try {
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await getOnce(`${rx.url}/metrics`, 10_000);
        expect(res.status, res.body.slice(0, 200)).toBe(200);
        expect(Date.now() - started, 'scrape time').toBeLessThan(6_000);
        expect(sampleOf(res.body, 'machpay_clickhouse_outbox_lag_seconds'), 'stale value').toBe(lag);
        expect(sampleOf(res.body, 'machpay_metrics_collect_failures_total{source="machpay_clickhouse_outbox_lag_seconds"}')).toBeGreaterThanOrEqual(i + 1);
        expect(res.body).toContain('machpay_ring_used_bytes ');
      }
    } finally {
      proxy.setMode('forward');
    }
  }, 60_000);
});
