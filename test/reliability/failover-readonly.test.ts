import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresServerUrl, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';
import { acksDuring, expectStoredExactlyOnce, metric, readyz, within } from './failover-support.js';

/**
 * PostgreSQL switched read-only under load, as a primary demoted to a standby is: new
 * sessions are read-only (default_transaction_read_only) and the receiver's sessions are
 * ended, so every reconnection meets a server that refuses writes (25006).
 */

let db: TestDatabase;
let rx: RunningReceiver;

async function setReadOnly(on: boolean): Promise<void> {
  await query(postgresServerUrl(), `ALTER DATABASE ${db.name} ${on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`);
  if (on) {
    await query(postgresServerUrl(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'machpay-receiver'", [db.name]);
  }
}

beforeAll(async () => {
  db = await createTestDatabase('failover_readonly');
  rx = await startReceiver({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', WORKERS: '1' });
}, 120_000);

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

describe('PostgreSQL switched read-only under load', () => {
  it('acknowledges through the spool, says PostgreSQL is down, and stores every acknowledged event once after it is writable again', async () => {
    const producer = new RetryingProducer(rx.url, 8);
    const start = Date.now();
    const load = producer.run(8, 20, start + 14_000, start + 60_000);

    expect(await acksDuring(producer, 2000), 'acknowledgements before the switch').toBeGreaterThan(0);
    await setReadOnly(true);
    let noticedMs: number;
    let during: number;
    let spooled: number;
    let ready: { status: number; body: string };
    try {
      noticedMs = await within(10_000, async () => (await metric(rx, 'machpay_postgres_up')) === 0);
      during = await acksDuring(producer, 3000);
      spooled = await metric(rx, 'machpay_spool_records');
      ready = await readyz(rx);
    } finally {
      await setReadOnly(false);
    }
    await load;

    expect(noticedMs, 'time until the receiver noticed').toBeLessThan(5000);
    expect(during, 'events acknowledged while PostgreSQL was read-only').toBeGreaterThan(0);
    expect(spooled).toBeGreaterThan(0);
    // Nothing was refused for it: a failover is not the client's problem.
    expect(producer.statuses.get('503') ?? 0, '503 answers').toBe(0);
    expect(ready.status).toBe(200);
    // The body says why: PostgreSQL down (and the cause), the spool taking the writes.
    const body = JSON.parse(ready.body) as { status: string; checks: Record<string, { ok: boolean; detail: string }> };
    expect(body.status).toBe('ready');
    expect(body.checks.postgres?.ok).toBe(false);
    expect(body.checks.postgres?.detail).toMatch(/read-only|25006|57P01|terminat/);
    expect(body.checks.spool?.ok).toBe(true);

    await within(60_000, async () => (await metric(rx, 'machpay_spool_records')) === 0);
    expect(await metric(rx, 'machpay_postgres_up')).toBe(1);
    await expectStoredExactlyOnce(db.url, producer);
    console.log(
      `read-only: noticed in ${noticedMs} ms; ${during} events acknowledged in the 3 s after; ${producer.acknowledged.size} acknowledged in all; statuses ${JSON.stringify(Object.fromEntries(producer.statuses))}`,
    );
  }, 120_000);
});
