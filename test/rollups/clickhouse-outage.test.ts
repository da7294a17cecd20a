/**
 * End to end: ClickHouse goes down under a running receiver (its own ClickHouse, stopped and
 * started again on the same port and data; the run's shared one never goes down). Ingest
 * goes on with 202s, the receiver is restarted once (SIGTERM, same DATA_DIR) during the
 * outage, and when ClickHouse returns the rollups waiting in PostgreSQL's
 * rollup_clickhouse_outbox arrive: per-agent requests, successes and spend under FINAL equal agent_interactions,
 * with nothing counted twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { interactionEvent, newAgent, postAgentBatch, rfc3339, type CloudEvent, type TestAgent } from '../helpers/agent.js';
import { tailLines } from '../helpers/log-tail.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { startRestartableClickhouse, type RestartableClickhouse } from '../helpers/restartable-clickhouse.js';
import { expectReconciled, latencySample } from './support.js';

const DATABASE = 'rollups_outage';
const VENDORS = ['vendor-weather', 'vendor-search'];

let db: TestDatabase;
let clickhouse: RestartableClickhouse;
let client: ClickHouseClient;
let dataDir: string;
let receiver: RunningReceiver;
let env: Record<string, string>;
let seed = 1;

beforeAll(async () => {
  const runDir = inject('testRunDir');
  [db, clickhouse] = await Promise.all([createTestDatabase('rollups_outage'), startRestartableClickhouse(runDir)]);
  client = createClient({ url: clickhouse.url, database: DATABASE });
  dataDir = await mkdtemp(join(runDir, 'outage-receiver-'));
  env = { DATABASE_URL: db.url, CLICKHOUSE_URL: `${clickhouse.url}/${DATABASE}`, ROLLUP_FOLD_INTERVAL_MS: '200', DATA_DIR: dataDir };
  receiver = await startReceiver(env);
}, 120_000);

afterAll(async () => {
  await receiver?.stop().catch(() => undefined);
  await client?.close();
  await Promise.all([db?.drop(), clickhouse?.destroy()]);
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

function events(agent: TestAgent, n: number): CloudEvent[] {
  const s = seed++;
  return latencySample(n, s).map((latency, i) =>
    interactionEvent(agent.agentId, {
      time: rfc3339(),
      data: { vendor_id: VENDORS[(s + i) % VENDORS.length], success: (s + i) % 5 !== 0, latency_ms: latency, amount_atomic: 1000 + ((s * 31 + i) % 997) },
    }),
  );
}

/** One batch per agent; every ack must be a 202 whatever ClickHouse is doing. */
async function sendTraffic(agents: readonly TestAgent[], n: number): Promise<void> {
  for (const agent of agents) {
    const batch = events(agent, n);
    const res = await postAgentBatch(receiver.url, agent, batch, { signer: 'node' });
    expect(res.status, `${res.text}\n${tailLines(receiver.stderrText(), 15)}`).toBe(202);
    expect((res.json as { accepted: number }).accepted).toBe(batch.length);
  }
}

interface Totals {
  key: string;
  requests: string;
  successes: string;
  spend: string;
}

/** Null when ClickHouse (FINAL) and agent_stats_hourly hold exactly what agent_interactions holds, per agent; else the first difference. */
async function reconcile(): Promise<string | null> {
  const truth = await query<Totals>(
    db.url,
    `SELECT agent_id AS key, count(*)::text AS requests, count(*) FILTER (WHERE success)::text AS successes, COALESCE(sum(amount_atomic), 0)::text AS spend
     FROM agent_interactions GROUP BY 1 ORDER BY 1`,
  );
  const rs = await client.query({
    query: `SELECT entity_id AS key, toString(sum(requests)) AS requests, toString(sum(successes)) AS successes, toString(sum(spend_atomic)) AS spend
            FROM rollup_minute FINAL WHERE kind = 'agent' GROUP BY key ORDER BY key`,
    format: 'JSONEachRow',
  });
  const hourly = await query<Totals>(
    db.url,
    `SELECT agent_id AS key, sum(total_requests)::text AS requests, sum(successful_requests)::text AS successes, sum(total_spend_atomic)::text AS spend
     FROM agent_stats_hourly GROUP BY 1 ORDER BY 1`,
  );
  // Sorted here: base58 ids mix cases, and PostgreSQL's collation and ClickHouse's byte order disagree on them.
  const same = (a: Totals[], b: Totals[]): boolean => {
    const text = (rows: Totals[]): string => JSON.stringify([...rows].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)));
    return text(a) === text(b);
  };
  const rollups = await rs.json<Totals>();
  if (!same(truth, rollups)) return `ClickHouse ${JSON.stringify(rollups)}\nPostgreSQL ${JSON.stringify(truth)}`;
  if (!same(truth, hourly)) return `agent_stats_hourly ${JSON.stringify(hourly)}\nPostgreSQL ${JSON.stringify(truth)}`;
  return null;
}


describe('ClickHouse outage, end to end', () => {
  it('stop ClickHouse, restart the receiver, start ClickHouse again: rollups arrive, counts reconcile', async () => {
    const agents = [newAgent(), newAgent(), newAgent()];
    await sendTraffic(agents, 40);
    await expectReconciled(reconcile, () => receiver.stderrText(), 20_000);

    // ClickHouse down: ingest goes on, folded rows wait in rollup_clickhouse_outbox.
    await clickhouse.stop();
    await sendTraffic(agents, 30);
    await new Promise((r) => setTimeout(r, 1_000)); // a few fold intervals
    await sendTraffic(agents, 20);

    // The receiver restarts during the outage: what waits for ClickHouse is in PostgreSQL.
    expect(await receiver.stop()).toBe(0);
    const waiting = await query<{ n: string }>(db.url, 'SELECT count(*)::text AS n FROM rollup_clickhouse_outbox');
    expect(Number(waiting[0]?.n)).toBeGreaterThan(0);
    receiver = await startReceiver(env);
    await sendTraffic(agents, 25);
    await new Promise((r) => setTimeout(r, 500));

    // Back: everything arrives, exactly once (backoff is capped at 30 s).
    await clickhouse.start();
    await expectReconciled(reconcile, () => receiver.stderrText(), 60_000);

    // A graceful stop adds nothing twice.
    expect(await receiver.stop()).toBe(0);
    expect(await reconcile()).toBeNull();
  }, 150_000);
});
