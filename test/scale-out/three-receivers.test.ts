/**
 * N receivers, one PostgreSQL, exact. Three built receivers (own ports and DATA_DIRs) on one
 * PostgreSQL and one ClickHouse, behind a client that spreads signed agent batches and
 * gateway batches over them and sends a batch that was not acknowledged again, same events,
 * to the next receiver. Mid-load, receiver 1 loses PostgreSQL into a black hole (a proxy
 * that drops every byte): its COPY hangs, and with SPILL_PENDING_ROWS=1 it acknowledges the
 * next batches through its spool. It is killed with SIGKILL holding those acknowledged
 * batches on disk, and restarted on its DATA_DIR with PostgreSQL back: it replays them.
 *
 * Afterwards: every acknowledged event is stored exactly once; and once the cluster has
 * settled (spools empty, every tally folded, the ClickHouse outbox sent) the minute, hour
 * and day tables of agents and gateways, and ClickHouse's rollup_minute, equal the raw rows
 * per agent and per gateway: requests, successes, spend and latency sum. The three
 * receivers' folders run all the while, so a tally folded by two of them would show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { createIngestKey, expectExactRollups, missingEvents, pollUntil, ReceiverCluster } from '../helpers/receiver-cluster.js';
import { SpreadingProducer } from '../helpers/spreading-producer.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let cluster: ReceiverCluster;
let proxy: TcpProxy;

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('scale_out'), createTestClickhouseDatabase('scale_out')]);
  const env = { DATABASE_URL: db.url, CLICKHOUSE_URL: ch.url, ROLLUP_FOLD_INTERVAL_MS: '200', WORKERS: '1', LOG_LEVEL: 'warn' };
  const target = new URL(db.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port));
  cluster = await ReceiverCluster.start([env, { ...env, DATABASE_URL: proxy.urlThrough(db.url), SPILL_PENDING_ROWS: '1' }, env]);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
  await Promise.all([db?.drop(), ch?.drop()]);
});

describe('three receivers on one PostgreSQL', () => {
  it('one killed with SIGKILL mid-load and restarted: every acknowledged event stored once, every rollup equal to the raw rows', async () => {
    const key = await createIngestKey(db.url, 'tenant-scale-out');
    const client = new SpreadingProducer(() => cluster.urls(), 4, key);
    const until = Date.now() + 8_000;
    const load = client.run(8, 40, until, until + 40_000);

    await new Promise((r) => setTimeout(r, 2_000));
    proxy.setMode('blackhole');
    // Receiver 1 acknowledges through its spool now; kill it while batches wait there.
    let spooledAtKill = 0;
    await pollUntil(async () => (spooledAtKill = await cluster.spooledBatches([1])) >= 3, 20_000, 100);
    await cluster.member(1).kill9();
    proxy.setMode('forward');
    await cluster.crashAndRestart(1);
    await load;

    const acknowledgedInteractions = client.acknowledgedInteractions.size;
    const acknowledgedGateway = client.acknowledgedGatewayEvents.size;
    expect(spooledAtKill, 'batches acknowledged through the spool of the killed receiver').toBeGreaterThanOrEqual(3);
    expect(acknowledgedInteractions, JSON.stringify([...client.statuses])).toBeGreaterThan(500);
    expect(acknowledgedGateway, JSON.stringify([...client.statuses])).toBeGreaterThan(500);
    // The kill cut requests off: the client resent them to the other receivers.
    expect(client.statuses.get('network') ?? 0, JSON.stringify([...client.statuses])).toBeGreaterThan(0);

    let lost: string[] = [];
    const stored = await pollUntil(async () => (lost = await missingEvents(db.url, client.acknowledgedInteractions, client.acknowledgedGatewayEvents)).length === 0, 45_000);
    expect(stored, `acknowledged events not stored: ${lost.slice(0, 5).join(', ')} (${lost.length}); spooled at the kill: ${spooledAtKill}\n${cluster.stderr()}`).toBe(true);

    // Stored once (the natural keys allow nothing else); rows beyond the acknowledged ones are
    // batches a receiver committed but could not answer before it was killed.
    const [counts] = await query<{ interactions: string; gateway: string }>(
      db.url,
      `SELECT (SELECT count(*) FROM agent_interactions)::text AS interactions, (SELECT count(*) FROM gateway_telemetry)::text AS gateway`,
    );
    expect(Number(counts?.interactions)).toBeGreaterThanOrEqual(acknowledgedInteractions);
    expect(Number(counts?.gateway)).toBeGreaterThanOrEqual(acknowledgedGateway);

    await expectExactRollups(cluster, db.url, ch, 45_000);
  }, 90_000);
});
