/**
 * The folder in its own worker thread (TallyFolderThread, the built workers/rollup-folder.js):
 * it folds what is pending when it starts and what arrives later, exactly (counts, spend);
 * its stats reach the main thread; stop() folds what is left, closes its connections and
 * ends the thread; a folder that cannot reach PostgreSQL counts failures and logs through
 * the main thread's logger; a missing entry point fails start(). And on the built receiver,
 * the thread's folds show in /metrics.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactionEvent, newAgent, postAgentBatch } from '../helpers/agent.js';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver } from '../helpers/receiver.js';
import { sessionSettings } from '../../src/database/index.js';
import { TallyFolderThread, writePendingTallies, type RollupGroup } from '../../src/rollups/index.js';
import { agentGroup, eventually, migratedPool, minuteAgo, silentLogger } from './support.js';

const WORKER_FILE = new URL('../../dist/workers/rollup-folder.js', import.meta.url);

let db: TestDatabase;
let pool: pg.Pool;
const threads: TallyFolderThread[] = [];

beforeAll(async () => {
  db = await createTestDatabase('folder_thread');
  pool = await migratedPool(db.url, 4);
  pool.on('error', () => undefined);
});

afterAll(async () => {
  await Promise.all(threads.map((t) => t.stop()));
  await pool?.end();
  await db?.drop();
});

function thread(url: string, intervalMs: number, log = silentLogger()): TallyFolderThread {
  const t = new TallyFolderThread({ url, pgSettings: sessionSettings(), folder: { intervalMs, baseBackoffMs: 20, maxBackoffMs: 100, stopTimeoutMs: 10_000 }, workerFile: WORKER_FILE }, log);
  threads.push(t);
  return t;
}

async function write(groups: readonly RollupGroup[]): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await writePendingTallies(c, groups);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

function groupsOf(agent: string, count: number): RollupGroup[] {
  return Array.from({ length: count }, (_, i) => agentGroup(agent, `vendor-${i % 3}`, minuteAgo(i % 4), [10 + i, 20 + i, 30 + i], { spend: 2n ** 60n + BigInt(i) }));
}

async function minuteTotals(agent: string): Promise<{ requests: number; spend: string }> {
  const rows = await query<{ requests: string | null; spend: string | null }>(
    db.url,
    'SELECT sum(total_requests)::text AS requests, sum(total_spend_atomic)::text AS spend FROM agent_stats_minute WHERE agent_id = $1',
    [agent],
  );
  return { requests: Number(rows[0]?.requests ?? 0), spend: rows[0]?.spend ?? '0' };
}

const spendOf = (groups: readonly RollupGroup[]): string => groups.reduce((s, g) => s + g.spendAtomic, 0n).toString();

/** Backends connected to the test database other than the test's own pool. */
async function folderConnections(): Promise<number> {
  const rows = await query<{ n: string }>(
    db.url,
    "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'machpay-receiver'",
  );
  return Number(rows[0]?.n ?? 0);
}

describe('TallyFolderThread', () => {
  it('folds what was pending and what comes later, exactly, and reports its stats to the main thread', async () => {
    const before = groupsOf('agent-thread-a', 30);
    await write(before);
    const t = thread(db.url, 100);
    await t.start();
    expect(await eventually(async () => (await minuteTotals('agent-thread-a')).requests === 90, 20_000)).toBe(true);
    const later = groupsOf('agent-thread-b', 12);
    await write(later);
    await t.foldNow();
    expect(await minuteTotals('agent-thread-b')).toEqual({ requests: 36, spend: spendOf(later) });
    expect(await minuteTotals('agent-thread-a')).toEqual({ requests: 90, spend: spendOf(before) });
    const s = t.stats();
    expect(s.rowsFolded).toBe(42);
    expect(s.requestsFolded).toBe(126);
    expect(s.rounds).toBeGreaterThanOrEqual(2);
    expect(s.failures).toBe(0);
    expect(s.lagSeconds).toBe(0);
    await t.stop();
  });

  it('stop() folds what is left, closes its connections and ends the thread', async () => {
    const t = thread(db.url, 600_000);
    await t.start();
    await t.foldNow();
    const last = groupsOf('agent-thread-c', 9);
    await write(last);
    expect(await folderConnections()).toBeGreaterThan(0);
    await t.stop();
    expect(await minuteTotals('agent-thread-c')).toEqual({ requests: 27, spend: spendOf(last) });
    expect(t.stats().requestsFolded).toBe(27);
    expect(await eventually(async () => (await folderConnections()) === 0, 5_000)).toBe(true);
    // Stopped: asking for a fold answers at once, and stopping again is harmless.
    await t.foldNow();
    await t.stop();
  });

  it('counts failed rounds while PostgreSQL is unreachable and logs them through the main logger', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: 'info' }, sink).child({ component: 'rollup-folder' });
    // Port 1 on the loopback: nothing listens there, so every connect is refused at once.
    const t = thread('postgres://nobody@127.0.0.1:1/none', 100, log);
    await t.start();
    expect(await eventually(async () => t.stats().failures >= 2, 10_000, 50)).toBe(true);
    await t.stop();
    const warned = lines.find((l) => l.msg === 'rollup folder: round failed; its rows stay pending');
    expect(warned).toMatchObject({ level: 40, component: 'rollup-folder', kind: 'unavailable' });
    expect((warned?.err as { message?: string } | undefined)?.message).toMatch(/ECONNREFUSED/);
  });

  it('start() fails when the entry point does not exist', async () => {
    const t = new TallyFolderThread({ url: db.url, pgSettings: sessionSettings(), workerFile: new URL('./no-such-folder-worker.js', import.meta.url) }, silentLogger());
    await expect(t.start()).rejects.toThrow();
    await t.stop();
  });
});

describe('the receiver folds in its folder thread', () => {
  it('ingested interactions reach agent_stats_minute and the fold counters in /metrics', async () => {
    const rx = await createTestDatabase('folder_thread_rx');
    const receiver = await startReceiver({ DATABASE_URL: rx.url, ROLLUP_FOLD_INTERVAL_MS: '100' });
    try {
      const agent = newAgent();
      const events = Array.from({ length: 25 }, () => interactionEvent(agent.agentId));
      const res = await postAgentBatch(receiver.url, agent, events);
      expect(res.status).toBe(202);
      const folded = async (): Promise<number> => {
        const rows = await query<{ n: string | null }>(rx.url, 'SELECT sum(total_requests)::text AS n FROM agent_stats_minute WHERE agent_id = $1', [agent.agentId]);
        return Number(rows[0]?.n ?? 0);
      };
      expect(await eventually(async () => (await folded()) === 25, 20_000)).toBe(true);
      const sample = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      let text = '';
      const seen = await eventually(async () => {
        text = (await getOnce(`${receiver.url}/metrics`, 5_000)).body;
        return sample(text, 'machpay_rollup_folded_requests_total') >= 25;
      }, 10_000);
      expect(seen, text).toBe(true);
      expect(sample(text, 'machpay_rollup_fold_rounds_total')).toBeGreaterThanOrEqual(1);
      expect(await receiver.stop()).toBe(0);
    } finally {
      await receiver.stop().catch(() => undefined);
      await rx.drop();
    }
  }, 90_000);
});
