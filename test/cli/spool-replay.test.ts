/**
 * `spool replay --data-dir DIR`: a receiver acknowledges batches through its spool while
 * PostgreSQL is black-holed, and is killed with SIGKILL before it can replay them (its
 * machine is gone). The command, run with PostgreSQL reachable, drains that data directory:
 * every acknowledged event is stored once, and the tallies it committed fold into rollups
 * equal to the raw rows. While the receiver runs, the command is refused (the spool lock),
 * and a receiver does not start on a data directory whose spool a replay holds.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpoolLock, spoolLocation } from '../../src/sinks/spool/index.js';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { expectExactRollups, keptDataDir, missingEvents, pollUntil, ReceiverCluster } from '../helpers/receiver-cluster.js';
import { runCli, startReceiver } from '../helpers/receiver.js';
import { SpreadingProducer } from '../helpers/spreading-producer.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy;
const dataDirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('spool_replay');
  const target = new URL(db.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port));
});

afterAll(async () => {
  await proxy?.close();
  await db?.drop();
  await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function spooledBatches(url: string): Promise<number> {
  const body = (await getOnce(`${url}/metrics`, 5_000)).body;
  return Number(/^machpay_spool_records (\d+)/m.exec(body)?.[1] ?? 'NaN');
}

describe('spool replay', () => {
  it("drains a killed receiver's spool into PostgreSQL: every acknowledged event stored once; refused while that receiver runs", async () => {
    const dataDir = await keptDataDir();
    dataDirs.push(dataDir);
    // SPILL_PENDING_ROWS=1: once a COPY hangs in the black hole, every batch is acknowledged through the spool.
    const rx = await startReceiver({ DATABASE_URL: proxy.urlThrough(db.url), DATA_DIR: dataDir, WORKERS: '1', LOG_LEVEL: 'warn', SPILL_PENDING_ROWS: '1' });
    const producer = new SpreadingProducer(() => [rx.url], 3, null);
    expect(await producer.sendAgentBatch(producer.agents[0]!, 20, Date.now() + 20_000)).toBe(true);

    proxy.setMode('blackhole');
    const until = Date.now() + 30_000;
    const load = Promise.all(
      producer.agents.map(async (agent) => {
        while (Date.now() < until && (await spooledBatches(rx.url).catch(() => Infinity)) < 6) await producer.sendAgentBatch(agent, 20, Date.now() + 3_000);
      }),
    );
    expect(await pollUntil(async () => (await spooledBatches(rx.url)) >= 6, 30_000, 100), 'batches acknowledged through the spool').toBe(true);

    // The receiver is up: the replay is refused, and says why.
    const refused = await runCli(['spool', 'replay', '--data-dir', dataDir], { DATABASE_URL: db.url });
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(new RegExp(`refusing to replay .*receiver \\(pid ${String(rx.process.pid)} on `));

    await rx.kill9();
    await load.catch(() => undefined);
    const acknowledged = [...producer.acknowledgedInteractions];
    const missingBefore = await missingEvents(db.url, acknowledged);
    expect(missingBefore.length, 'acknowledged events only in the killed receiver’s spool').toBeGreaterThan(0);

    // From "another host": PostgreSQL reached directly, the data directory as the kill left it.
    const started = performance.now();
    const run = await runCli(['spool', 'replay', '--data-dir', dataDir], { DATABASE_URL: db.url }, 60_000);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^spool .*: [1-9]\d* batches to replay/m);
    expect(run.stdout).toMatch(/^replayed [1-9]\d* batches, [1-9]\d* events, [\d.]+ MiB in [\d.]+ s; the spool is empty$/m);
    expect(run.stderr).toMatch(/^replayed [1-9]\d*\/[1-9]\d* batches, \d+ events, [\d.]+ MiB · \d+ events\/s, [\d.]+ MiB\/s · left 0 batches$/m);
    expect(performance.now() - started).toBeLessThan(60_000);

    expect(await missingEvents(db.url, acknowledged)).toEqual([]);

    // Again: nothing left, nothing stored twice.
    const again = await runCli(['spool', 'replay', '--data-dir', dataDir], { DATABASE_URL: db.url });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/: 0 batches to replay/);

    // The replay committed its tallies with its rows; a receiver folds them, exactly.
    const folder = await ReceiverCluster.start([{ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn', ROLLUP_FOLD_INTERVAL_MS: '200' }]);
    try {
      await expectExactRollups(folder, db.url, null, 30_000);
    } finally {
      await folder.stop();
    }
  }, 90_000);

  it('a receiver does not start on a data directory whose spool a replay holds', async () => {
    const dataDir = await keptDataDir();
    dataDirs.push(dataDir);
    const lock = await SpoolLock.acquire(spoolLocation(dataDir).lockFile, 'spool replay');
    try {
      const err = await startReceiver({ DATABASE_URL: db.url, DATA_DIR: dataDir, WORKERS: '1', LOG_LEVEL: 'warn' }).then(
        () => null,
        (e: unknown) => e as Error & { exitCode?: number },
      );
      expect(err?.exitCode).toBe(1);
      expect(err?.message).toMatch(new RegExp(`spool is in use by another process.*spool replay \\(pid ${process.pid} on `));
    } finally {
      await lock.release();
    }
  }, 60_000);

  it('says what is wrong with a directory that has no spool, or a missing sub-command', async () => {
    const empty = await runCli(['spool', 'replay', '--data-dir', '/nonexistent/machpay'], {});
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no spool in \/nonexistent\/machpay/);
    const bare = await runCli(['spool'], {});
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/spool needs a sub-command/);
    const help = await runCli(['spool', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit status:/);
  });
});
