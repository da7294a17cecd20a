import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { acksDuring, expectStoredExactlyOnce, metric, readyz, within } from './failover-support.js';

/**
 * PostgreSQL black-holed under load, as a failover that silently drops packets does: a TCP
 * proxy between the receiver and PostgreSQL keeps every connection open and drops every byte.
 * No reset, no error ever reaches the receiver; only its own timeouts can tell.
 */

let db: TestDatabase;
let proxy: TcpProxy;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('failover_blackhole');
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port));
  rx = await startReceiver({ DATABASE_URL: proxy.urlThrough(db.url), LOG_LEVEL: 'warn', WORKERS: '1' });
}, 120_000);

afterAll(async () => {
  await rx?.stop();
  await proxy?.close();
  await db?.drop();
});

describe('PostgreSQL black-holed under load', () => {
  it('acknowledges through the spool, says PostgreSQL is down, and stores every acknowledged event once after it returns', async () => {
    const producer = new RetryingProducer(rx.url, 8);
    const start = Date.now();
    const load = producer.run(8, 20, start + 14_000, start + 60_000);

    expect(await acksDuring(producer, 2000), 'acknowledgements before the black hole').toBeGreaterThan(0);
    proxy.setMode('blackhole');
    const noticedMs = await within(10_000, async () => (await metric(rx, 'machpay_postgres_up')) === 0);
    const during = await acksDuring(producer, 3000);
    const spooled = await metric(rx, 'machpay_spool_records');
    const ready = await readyz(rx);
    proxy.setMode('forward');
    await load;

    // Two probes in a row without an answer (1.5 s each, 1 s apart), and the metrics poll.
    expect(noticedMs, 'time until the receiver noticed').toBeLessThan(8000);
    expect(during, 'events acknowledged while PostgreSQL was black-holed').toBeGreaterThan(0);
    expect(spooled).toBeGreaterThan(0);
    // Nothing was refused for it: a failover is not the client's problem.
    expect(producer.statuses.get('503') ?? 0, '503 answers').toBe(0);
    // The spool takes the writes: a 202 is honest, so the receiver stays ready.
    expect(ready.status).toBe(200);
    // The body says why: PostgreSQL down (and the cause), the spool taking the writes.
    const body = JSON.parse(ready.body) as { status: string; checks: Record<string, { ok: boolean; detail: string }> };
    expect(body.status).toBe('ready');
    expect(body.checks.postgres?.ok).toBe(false);
    expect(body.checks.postgres?.detail).toMatch(/no answer|timeout/);
    expect(body.checks.spool?.ok).toBe(true);

    await within(60_000, async () => (await metric(rx, 'machpay_spool_records')) === 0);
    expect(await metric(rx, 'machpay_postgres_up')).toBe(1);
    await expectStoredExactlyOnce(db.url, producer);
    console.log(
      `black hole: noticed in ${noticedMs} ms; ${during} events acknowledged in the 3 s after; ${producer.acknowledged.size} acknowledged in all; statuses ${JSON.stringify(Object.fromEntries(producer.statuses))}`,
    );
  }, 120_000);
});
