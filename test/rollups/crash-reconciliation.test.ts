/**
 * Exact rollups through crashes, end to end: three built receivers on one PostgreSQL (and
 * one ClickHouse) under load from producers that retry until acknowledged. One receiver is
 * killed with SIGKILL mid-load and restarted on its DATA_DIR; another reaches PostgreSQL
 * through a proxy that loses the replies of some COMMITs (the batch committed, the receiver
 * only saw its connection drop: it spools the batch and replays it, which inserts nothing).
 * Afterwards every acknowledged event is stored, and once the cluster has settled the
 * minute, hour and day rollups and ClickHouse's rollup_minute count exactly the stored rows,
 * per agent: nothing lost with the killed process, nothing counted twice by the replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { expectExactRollups, missingEvents, pollUntil, ReceiverCluster } from '../helpers/receiver-cluster.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';
import { CommitReplyDropper } from './support.js';

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let proxy: CommitReplyDropper;
let cluster: ReceiverCluster;

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('rollups_crash'), createTestClickhouseDatabase('rollups_crash')]);
  const target = new URL(db.url);
  proxy = new CommitReplyDropper(target.hostname, Number(target.port));
  await proxy.up();
  const proxied = new URL(db.url);
  proxied.port = String(proxy.port);
  const env = { CLICKHOUSE_URL: ch.url, ROLLUP_FOLD_INTERVAL_MS: '200', WORKERS: '1', LOG_LEVEL: 'warn', DATABASE_URL: db.url };
  cluster = await ReceiverCluster.start([{ ...env, DATABASE_URL: proxied.toString() }, env, env]);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
  await Promise.all([db?.drop(), ch?.drop()]);
});

describe('exact rollups through crashes', () => {
  it('three receivers, one killed with SIGKILL under load, one losing COMMIT replies: every acknowledged event counted exactly once', async () => {
    const producers = cluster.urls().map((url) => new RetryingProducer(url, 3));
    const loadMs = 6_000;
    const until = Date.now() + loadMs;
    const load = Promise.all(producers.map((p) => p.run(3, 20, until, until + 60_000)));

    await new Promise((r) => setTimeout(r, 1_000));
    proxy.arm(3);
    await new Promise((r) => setTimeout(r, 1_000));
    const restarted = await cluster.crashAndRestart(1);
    producers[1]?.retarget(restarted.url);
    await load;
    // Replays go through the same proxy: they find PostgreSQL answering again.
    proxy.disarm();

    expect(proxy.dropped, 'no COMMIT reply was lost: the test did not test the replay').toBeGreaterThan(0);
    // Every acknowledged event is stored (those acknowledged through a spool once it is
    // replayed; the primary key makes each one stored exactly once).
    const acknowledged = producers.flatMap((p) => [...p.acknowledged]);
    let lost: string[] = [];
    const stored = await pollUntil(async () => (lost = await missingEvents(db.url, acknowledged)).length === 0, 90_000);
    expect(stored, `acknowledged events not stored: ${lost.slice(0, 5).join(', ')} (${lost.length}); COMMIT replies dropped: ${proxy.dropped}\n${cluster.stderr()}`).toBe(true);
    expect(acknowledged.length).toBeGreaterThan(500);

    await expectExactRollups(cluster, db.url, ch, 45_000);

    // The receiver behind the proxy acknowledged those batches through its spool and replayed them.
    const metrics = await getOnce(`${cluster.member(0).url}/metrics`, 5_000);
    const replayed = /^machpay_spool_replayed_batches_total (\d+)/m.exec(metrics.body);
    expect(Number(replayed?.[1] ?? 0), 'spool replays').toBeGreaterThan(0);
  }, 240_000);
});
