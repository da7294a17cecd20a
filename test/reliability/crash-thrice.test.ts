import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tailLines } from '../helpers/log-tail.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { metric, within } from './failover-support.js';

/**
 * kill -9 three times under load, one of them while the spool is being replayed into
 * PostgreSQL, each time restarted on the same DATA_DIR: every acknowledged event is stored
 * exactly once, and nothing is stored that was not acknowledged (the producer retries every
 * batch until it is). The assertions are about exactness only; the timing of the load is
 * whatever the machine gives.
 *
 * The kill during replay is made certain rather than lucky: PostgreSQL goes away (a proxy
 * refusing connections) so that acknowledged batches go to the spool; the test then holds a
 * lock on agent_interactions and lets PostgreSQL back, so that replay starts and waits inside
 * its transaction; the receiver is killed there.
 */

let db: TestDatabase;
let proxy: TcpProxy;
let env: Record<string, string>;
let current: RunningReceiver | null = null;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase('crash_thrice');
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port));
  // A DATA_DIR of the test's own: the helper removes the ones it makes when their receiver exits.
  dataDir = await mkdtemp(join(tmpdir(), 'machpay-crash-thrice-'));
  env = { DATABASE_URL: proxy.urlThrough(db.url), DATA_DIR: dataDir, LOG_LEVEL: 'warn', WORKERS: '1' };
  current = await startReceiver(env);
}, 60_000);

afterAll(async () => {
  proxy?.setMode('forward');
  await current?.stop().catch(() => undefined);
  await proxy?.close();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Backends of the test database waiting for a lock (the receiver's replay behind ours). */
async function lockWaiters(): Promise<number> {
  const rows = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
  return rows[0]?.n ?? 0;
}

describe('kill -9 three times under load', () => {
  it('stores every acknowledged event exactly once, including after a kill during spool replay', async () => {
    const first = current as RunningReceiver;
    const producer = new RetryingProducer(first.url, 6);
    const log: string[] = [];
    const restart = async (why: string): Promise<RunningReceiver> => {
      const rx = current as RunningReceiver;
      log.push(`${why}: ${producer.acknowledged.size} acknowledged`);
      await rx.kill9();
      current = null;
      current = await startReceiver(env);
      producer.retarget(current.url);
      return current;
    };
    let loadRunning = true;
    const load = (async () => {
      // Batches keep being sent until the last kill is done; each is retried until acknowledged.
      while (loadRunning) await producer.run(6, 20, Date.now() + 1000, Date.now() + 50_000);
    })();

    try {
      // 1. An ordinary kill under load.
      await within(15_000, async () => producer.acknowledged.size > 0);
      await sleep(1000);
      let rx = await restart('kill 1, under load');

      // 2. PostgreSQL away: acknowledged batches go to the spool.
      await within(15_000, async () => producer.acknowledged.size > 0);
      proxy.setMode('refuse');
      await within(15_000, async () => (await metric(rx, 'machpay_spool_records')) > 0);
      const beforeOutageAcks = producer.acknowledged.size;
      await within(15_000, async () => producer.acknowledged.size > beforeOutageAcks + 100);
      // Back, but behind a lock of ours: replay starts and waits inside its transaction.
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE agent_interactions IN EXCLUSIVE MODE');
        proxy.setMode('forward');
        // Coming back can take up to the health check's longest hold-down (30 s, src/database/health.ts)
        // when writes failed again soon after an earlier return.
        await within(45_000, async () => (await metric(rx, 'machpay_postgres_up')) === 1);
        await within(15_000, async () => (await lockWaiters()) > 0);
        // The replayer runs once a second: give it the time to be among the waiters.
        await sleep(1500);
        expect(await metric(rx, 'machpay_spool_records'), 'spooled batches at the kill').toBeGreaterThan(0);
        rx = await restart('kill 2, during spool replay');
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }

      // 3. Killed again soon after its start, while it replays what the last one left and takes new load.
      await within(15_000, async () => producer.acknowledged.size > 0 && (await metric(rx, 'machpay_postgres_up')) === 1);
      await sleep(500);
      rx = await restart('kill 3, right after a restart');
    } finally {
      loadRunning = false;
    }
    await load;

    const rx = current as RunningReceiver;
    await within(30_000, async () => (await metric(rx, 'machpay_spool_records')) === 0);
    const ids = producer.agents.map((a) => a.agentId);
    const rows = await query<{ k: string }>(db.url, `SELECT agent_id || ':' || nonce::text AS k FROM agent_interactions WHERE agent_id = ANY($1)`, [ids]);
    const stored = new Set(rows.map((r) => r.k));
    const missing = [...producer.acknowledged].filter((k) => !stored.has(k));
    const context = `${log.join('; ')}; statuses ${JSON.stringify(Object.fromEntries(producer.statuses))}\n${tailLines(rx.stderrText(), 20)}`;
    console.log(`crash thrice: ${log.join('; ')}; ${producer.acknowledged.size} acknowledged, ${rows.length} rows; statuses ${JSON.stringify(Object.fromEntries(producer.statuses))}`);
    expect(stored.size, `no event stored twice; ${context}`).toBe(rows.length);
    expect(missing.slice(0, 5), `acknowledged events missing (${missing.length}); ${context}`).toEqual([]);
    // Every batch was retried until acknowledged: nothing is stored that was not.
    expect(rows.length, context).toBe(producer.acknowledged.size);
    expect(producer.statuses.get('network') ?? 0, 'requests cut off by the kills').toBeGreaterThan(0);
  }, 90_000);
});
