import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, endPool } from '../../src/database/index.js';
import { Lifecycle } from '../../src/lifecycle.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { expectStoredExactlyOnce, metric, within } from './failover-support.js';

/**
 * A graceful stop is bounded even when PostgreSQL has left connections half-answered: a
 * black hole (a TCP proxy that keeps connections open and drops every byte) during load,
 * then SIGTERM, after PostgreSQL is back and while it is still gone. The process exits 0
 * within STOP_BOUND_MS, and what it acknowledged is stored exactly once after a restart
 * (what the stop left in the spool is replayed by the next start).
 */

/** Pipeline drain (SHUTDOWN_TIMEOUT_MS below) plus its spill, plus the other steps' deadlines. */
const STOP_BOUND_MS = 15_000;

let db: TestDatabase;
let proxy: TcpProxy;
/** Kept across the stop and the restart (a receiver's own DATA_DIR is removed when it exits). */
const dataDirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('shutdown_after_outage');
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port));
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await db?.drop();
  await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const env = (): Record<string, string> => ({ DATABASE_URL: proxy.urlThrough(db.url), LOG_LEVEL: 'warn', WORKERS: '1', SHUTDOWN_TIMEOUT_MS: '3000' });

/** Load, a black hole until the receiver says PostgreSQL is down, then `beforeStop`, then SIGTERM. */
async function stopAfterBlackhole(beforeStop: () => Promise<void>): Promise<{ rx: RunningReceiver; producer: RetryingProducer; stopMs: number; code: number | null }> {
  proxy.setMode('forward');
  const dataDir = await mkdtemp(join(tmpdir(), 'shutdown-after-outage-'));
  dataDirs.push(dataDir);
  const rx = await startReceiver({ ...env(), DATA_DIR: dataDir }, { stopTimeoutMs: 30_000 });
  const producer = new RetryingProducer(rx.url, 4);
  // Short runs, so that sending stops soon after the SIGTERM; a batch never answered with a
  // 202 is not counted as acknowledged.
  let sending = true;
  const load = (async () => {
    while (sending) await producer.run(4, 20, Date.now() + 250, Date.now() + 2_000);
  })();
  await within(5_000, async () => producer.acknowledged.size > 0);
  proxy.setMode('blackhole');
  await within(10_000, async () => (await metric(rx, 'machpay_postgres_up')) === 0);
  // Acknowledged through the spool while PostgreSQL is gone; requests pile up on dead connections.
  await sleep(2_000);
  await beforeStop();
  const stopped = Date.now();
  const code = await rx.stop('SIGTERM');
  const stopMs = Date.now() - stopped;
  sending = false;
  await load;
  const overran = rx.stderrText().split('\n').filter((l) => l.includes('did not stop in time'));
  if (overran.length > 0) console.log(overran.join('\n'));
  return { rx, producer, stopMs, code };
}

/** A fresh receiver on the same DATA_DIR replays the spool; then every acknowledged event is stored once. */
async function expectReplayedAfterRestart(dataDir: string, producer: RetryingProducer): Promise<void> {
  proxy.setMode('forward');
  const rx = await startReceiver({ ...env(), DATA_DIR: dataDir });
  try {
    await within(30_000, async () => (await metric(rx, 'machpay_spool_records')) === 0);
    await expectStoredExactlyOnce(db.url, producer);
  } finally {
    expect(await rx.stop('SIGTERM')).toBe(0);
  }
}

describe('graceful stop after PostgreSQL was black-holed', () => {
  it('exits 0 within the bound once PostgreSQL is back, and nothing acknowledged is lost', async () => {
    const { rx, producer, stopMs, code } = await stopAfterBlackhole(async () => {
      proxy.setMode('forward');
      await sleep(1_000);
    });
    console.log(`restored then stopped: exit ${code} in ${stopMs} ms; ${producer.acknowledged.size} acknowledged`);
    expect(code, rx.stderrText().slice(-4000)).toBe(0);
    expect(stopMs).toBeLessThan(STOP_BOUND_MS);
    await expectReplayedAfterRestart(rx.dataDir, producer);
  }, 60_000);

  it('exits 0 within the bound while PostgreSQL is still gone, leaving what was acknowledged in the spool', async () => {
    const { rx, producer, stopMs, code } = await stopAfterBlackhole(async () => undefined);
    console.log(`stopped while black-holed: exit ${code} in ${stopMs} ms; ${producer.acknowledged.size} acknowledged`);
    expect(code, rx.stderrText().slice(-4000)).toBe(0);
    expect(stopMs).toBeLessThan(STOP_BOUND_MS);
    // Read past the proxy: acknowledged events PostgreSQL does not have are in the spool only.
    const ids = producer.agents.map((a) => a.agentId);
    const rows = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
    expect(Number(rows[0]?.n), 'acknowledged events left in the spool at exit').toBeLessThan(producer.acknowledged.size);
    await expectReplayedAfterRestart(rx.dataDir, producer);
  }, 60_000);
});

describe('the stop deadlines themselves', () => {
  it('a step that never stops is left behind at its deadline, and the steps before it still stop', async () => {
    const journal: string[] = [];
    const lifecycle = new Lifecycle(pino({ level: 'silent' }), 100);
    await lifecycle.start([
      { name: 'first', start: () => undefined, stop: () => void journal.push('stop first') },
      { name: 'hangs', start: () => undefined, stop: () => new Promise<void>(() => undefined) },
      { name: 'own deadline', start: () => undefined, stop: () => sleep(300).then(() => void journal.push('stop own deadline')), stopTimeoutMs: 1000 },
    ]);
    const started = Date.now();
    await lifecycle.stop();
    expect(journal).toEqual(['stop own deadline', 'stop first']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('endPool ends a pool whose connection waits on a black-holed query by destroying its socket', async () => {
    proxy.setMode('forward');
    const pool = createPool(proxy.urlThrough(db.url), 2, pino({ level: 'silent' }));
    try {
      await pool.query('SELECT 1');
      proxy.setMode('blackhole');
      const stuck = pool.query('SELECT 1').then(
        () => 'answered',
        () => 'failed',
      );
      await sleep(100);
      const started = Date.now();
      expect(await endPool(pool, 300), 'ended on its own').toBe(false);
      expect(Date.now() - started).toBeLessThan(1000);
      // The query fails as a broken connection now, not at its 35 s query timeout.
      expect(await Promise.race([stuck, sleep(2000, 'still waiting')])).toBe('failed');
    } finally {
      proxy.setMode('forward');
    }
  });
});
