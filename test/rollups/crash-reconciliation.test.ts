/**
 * Exact rollups through crashes, end to end: three built receivers on one PostgreSQL (and
 * one ClickHouse) under load from producers that retry until acknowledged. One receiver is
 * killed with SIGKILL mid-load and restarted on its DATA_DIR; another reaches PostgreSQL
 * through a proxy that loses the replies of some COMMITs (the batch committed, the receiver
 * only saw its connection drop: it spools the batch and replays it, which inserts nothing).
 * Afterwards every acknowledged event is stored, and agent_stats_minute, agent_stats_hourly
 * and ClickHouse's rollup_minute count exactly the stored rows, per agent: nothing lost with
 * the killed process, nothing counted twice by the replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { getOnce } from '../helpers/http-get.js';
import { tailLines } from '../helpers/log-tail.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';
import { CommitReplyDropper, eventually, expectReconciled } from './support.js';

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let proxy: CommitReplyDropper;
const receivers: RunningReceiver[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('rollups_crash'), createTestClickhouseDatabase('rollups_crash')]);
  const target = new URL(db.url);
  proxy = new CommitReplyDropper(target.hostname, Number(target.port));
  await proxy.up();
  const proxied = new URL(db.url);
  proxied.port = String(proxy.port);
  env = { CLICKHOUSE_URL: ch.url, ROLLUP_FOLD_INTERVAL_MS: '200', WORKERS: '1', LOG_LEVEL: 'warn' };
  receivers.push(await startReceiver({ ...env, DATABASE_URL: proxied.toString() }));
  receivers.push(await startReceiver({ ...env, DATABASE_URL: db.url }));
  receivers.push(await startReceiver({ ...env, DATABASE_URL: db.url }));
}, 120_000);

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop().catch(() => undefined)));
  await proxy?.close();
  await Promise.all([db?.drop(), ch?.drop()]);
});

interface Totals {
  key: string;
  requests: string;
  spend: string;
}

const sorted = (rows: Totals[]): string => JSON.stringify([...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));

/** Null when the minute, hour and ClickHouse rollups equal the raw rows per agent; else the first difference. */
async function reconcile(): Promise<string | null> {
  const raw = await query<Totals>(db.url, `SELECT agent_id AS key, count(*)::text AS requests, COALESCE(sum(amount_atomic), 0)::text AS spend FROM agent_interactions GROUP BY 1`);
  const views: [string, Totals[]][] = [
    ['agent_stats_minute', await query<Totals>(db.url, `SELECT agent_id AS key, sum(total_requests)::text AS requests, sum(total_spend_atomic)::text AS spend FROM agent_stats_minute GROUP BY 1`)],
    ['agent_stats_hourly', await query<Totals>(db.url, `SELECT agent_id AS key, sum(total_requests)::text AS requests, sum(total_spend_atomic)::text AS spend FROM agent_stats_hourly GROUP BY 1`)],
  ];
  const rs = await ch.client.query({
    query: `SELECT entity_id AS key, toString(sum(requests)) AS requests, toString(sum(spend_atomic)) AS spend FROM rollup_minute FINAL WHERE kind = 'agent' GROUP BY key`,
    format: 'JSONEachRow',
  });
  views.push(['ClickHouse rollup_minute', await rs.json<Totals>()]);
  const truth = sorted(raw);
  for (const [name, rows] of views) if (sorted(rows) !== truth) return `${name} ${sorted(rows)}\nraw rows ${truth}`;
  return null;
}

describe('exact rollups through crashes', () => {
  it('three receivers, one killed with SIGKILL under load, one losing COMMIT replies: every acknowledged event counted exactly once', async () => {
    const producers = receivers.map((r) => new RetryingProducer(r.url, 3));
    const loadMs = 6_000;
    const until = Date.now() + loadMs;
    const load = Promise.all(producers.map((p) => p.run(3, 20, until, until + 60_000)));

    await new Promise((r) => setTimeout(r, 1_000));
    proxy.arm(3);
    await new Promise((r) => setTimeout(r, 1_000));
    const killed = receivers[1] as RunningReceiver;
    await killed.kill9();
    const restarted = await startReceiver({ ...env, DATABASE_URL: db.url, DATA_DIR: killed.dataDir });
    receivers[1] = restarted;
    producers[1]?.retarget(restarted.url);
    await load;
    // Replays go through the same proxy: they find PostgreSQL answering again.
    proxy.disarm();

    expect(proxy.dropped, 'no COMMIT reply was lost: the test did not test the replay').toBeGreaterThan(0);
    // Every acknowledged event is stored (those acknowledged through a spool once it is
    // replayed; the primary key makes each one stored exactly once).
    const missing = async (): Promise<string[]> => {
      const stored = new Set((await query<{ k: string }>(db.url, `SELECT agent_id || ':' || nonce::text AS k FROM agent_interactions`)).map((r) => r.k));
      return producers.flatMap((p) => [...p.acknowledged].filter((k) => !stored.has(k)));
    };
    let lost: string[] = [];
    const stderr = () => receivers.map((r, i) => `--- receiver ${i} ---\n${tailLines(r.stderrText(), 15)}`).join('\n');
    expect(await eventually(async () => (lost = await missing()).length === 0, 90_000), `acknowledged events not stored: ${lost.slice(0, 5).join(', ')} (${lost.length}); COMMIT replies dropped: ${proxy.dropped}\n${stderr()}`).toBe(true);
    const acknowledged = producers.reduce((n, p) => n + p.acknowledged.size, 0);
    expect(acknowledged).toBeGreaterThan(500);

    await expectReconciled(reconcile, stderr, 45_000);

    // The receiver behind the proxy acknowledged those batches through its spool and replayed them.
    const metrics = await getOnce(`${(receivers[0] as RunningReceiver).url}/metrics`, 5_000);
    const replayed = /^machpay_spool_replayed_batches_total (\d+)/m.exec(metrics.body);
    expect(Number(replayed?.[1] ?? 0), 'spool replays').toBeGreaterThan(0);
  }, 240_000);
});
