/**
 * End to end: the built receiver (dist/, as production runs it) with PostgreSQL and
 * ClickHouse, a mixed load of signed agent batches and API-key gateway batches (several
 * agents and vendors, successes and failures, exact duplicates and retries, a late event for
 * an earlier minute), then the rollups are reconciled with what PostgreSQL actually stored:
 * requests, successes and spend exactly, p50/p99 within the histogram's precision of the
 * exact percentiles of the raw rows, and each gateway's requests by status class and with a
 * verified payment; in ClickHouse and in agent_stats_hourly / gateway_stats_hourly. Then a
 * graceful stop must not add anything twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { gatewayEvent, interactionEvent, INGEST_PATH, newAgent, postAgentBatch, postEvents, encodeJsonBatch, rfc3339, type CloudEvent, type TestAgent } from '../helpers/agent.js';
import { tailLines } from '../helpers/log-tail.js';
import { runCli, startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { mergeEncodedHistograms } from '../../src/rollups/index.js';
import { expectReconciled, exactPercentile, latencySample, MINUTE, withinPrecision } from './support.js';
import { STATUS_COLUMNS, statusSums } from './gateway-status-load.js';

const TENANT = 'tenant-rollup-e2e';
const VENDORS = ['vendor-weather', 'vendor-search', 'vendor-llm'];

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let receiver: RunningReceiver;
let apiKey: string;

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('rollups_e2e'), createTestClickhouseDatabase('rollups_e2e')]);
  receiver = await startReceiver({ DATABASE_URL: db.url, CLICKHOUSE_URL: ch.url, ROLLUP_FOLD_INTERVAL_MS: '200' });
  const created = await runCli(['keys', 'create', '--tenant', TENANT, '--name', 'rollup-e2e'], { DATABASE_URL: db.url });
  expect(created.code, created.stderr).toBe(0);
  apiKey = created.stdout.trim().split('\n').pop() as string;
  expect(apiKey).toMatch(/^mpk_/);
}, 120_000);

afterAll(async () => {
  await receiver?.stop().catch(() => undefined);
  await Promise.all([db?.drop(), ch?.drop()]);
});

interface Truth {
  key: string;
  requests: number;
  successes: number;
  spend: string;
  latencies: number[];
}

/** What agent_interactions holds, per agent, per (hour, agent), and per (agent, vendor). */
async function agentTruth(): Promise<{ perAgent: Truth[]; perHour: Truth[]; perVendor: Truth[] }> {
  const grouped = async (keyExpr: string): Promise<Truth[]> =>
    (
      await query<{ key: string; requests: string; successes: string; spend: string; latencies: number[] }>(
        db.url,
        `SELECT ${keyExpr} AS key, count(*)::text AS requests, count(*) FILTER (WHERE success)::text AS successes,
                COALESCE(sum(amount_atomic), 0)::text AS spend, array_agg(latency_ms) AS latencies
         FROM agent_interactions GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => ({ key: r.key, requests: Number(r.requests), successes: Number(r.successes), spend: r.spend, latencies: r.latencies }));
  return {
    perAgent: await grouped('agent_id'),
    perHour: await grouped(`(extract(epoch FROM date_trunc('hour', time)) * 1000)::bigint::text || '|' || agent_id`),
    perVendor: await grouped(`agent_id || '|' || vendor_id`),
  };
}

async function gatewayTruth(): Promise<{ perGateway: Truth[]; perHour: Truth[] }> {
  const grouped = async (keyExpr: string): Promise<Truth[]> =>
    (
      await query<{ key: string; requests: string; successes: string; spend: string; latencies: number[] }>(
        db.url,
        `SELECT ${keyExpr} AS key, count(*)::text AS requests, count(*) FILTER (WHERE status_code < 400)::text AS successes,
                COALESCE(sum(amount_atomic), 0)::text AS spend, array_agg(latency_ms) AS latencies
         FROM gateway_telemetry GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => ({ key: r.key, requests: Number(r.requests), successes: Number(r.successes), spend: r.spend, latencies: r.latencies }));
  return {
    perGateway: await grouped(`tenant_id || '|' || gateway_id`),
    perHour: await grouped(`(extract(epoch FROM date_trunc('hour', time)) * 1000)::bigint::text || '|' || tenant_id || '|' || gateway_id`),
  };
}

interface RollupView {
  key: string;
  requests: string;
  successes: string;
  spend: string;
  hdrs: string[];
}

async function clickhouseView(kind: 'agent' | 'gateway', keyExpr: string): Promise<RollupView[]> {
  const rs = await ch.client.query({
    query: `SELECT ${keyExpr} AS key, toString(sum(requests)) AS requests, toString(sum(successes)) AS successes,
                   toString(sum(spend_atomic)) AS spend, groupArray(latency_hdr) AS hdrs
            FROM rollup_minute FINAL WHERE kind = '${kind}' GROUP BY key ORDER BY key`,
    format: 'JSONEachRow',
  });
  return rs.json<RollupView>();
}

interface HourlyView {
  key: string;
  requests: string;
  successes: string;
  spend: string;
  p50: number;
  p99: number;
}

async function hourlyView(table: 'agent_stats_hourly' | 'gateway_stats_hourly'): Promise<HourlyView[]> {
  const key = table === 'agent_stats_hourly' ? 'agent_id' : `tenant_id || '|' || gateway_id`;
  return query<HourlyView>(
    db.url,
    `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text || '|' || ${key} AS key, total_requests::text AS requests,
            successful_requests::text AS successes, total_spend_atomic::text AS spend, p50_latency_ms AS p50, p99_latency_ms AS p99
     FROM ${table} ORDER BY 1`,
  );
}

/**
 * A gateway's requests by status class and with a verified payment, three ways: counted from
 * gateway_telemetry's rows, summed from ClickHouse's rollup_minute, and from gateway_stats_hourly.
 * Keyed `tenant|gateway` (ClickHouse) or `hour|tenant|gateway` (the hourly table, and the rows for it).
 */
async function gatewayClasses(from: 'rows' | 'rows per hour' | 'clickhouse' | 'gateway_stats_hourly'): Promise<Map<string, string>> {
  const hour = `(extract(epoch FROM date_trunc('hour', time)) * 1000)::bigint::text || '|' || `;
  const classes = `count(*) FILTER (WHERE status_code BETWEEN 200 AND 299)::text AS status_2xx, count(*) FILTER (WHERE status_code BETWEEN 300 AND 399)::text AS status_3xx,
     count(*) FILTER (WHERE status_code BETWEEN 400 AND 499)::text AS status_4xx, count(*) FILTER (WHERE status_code BETWEEN 500 AND 599)::text AS status_5xx,
     count(*) FILTER (WHERE payment_verified)::text AS payments_verified`;
  let rows: Array<Record<string, string>>;
  if (from === 'clickhouse') {
    const rs = await ch.client.query({
      query: `SELECT concat(tenant_id, '|', entity_id) AS key, ${statusSums('clickhouse')} FROM rollup_minute FINAL WHERE kind = 'gateway' GROUP BY key`,
      format: 'JSONEachRow',
    });
    rows = await rs.json();
  } else if (from === 'gateway_stats_hourly') {
    rows = await query(db.url, `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text || '|' || tenant_id || '|' || gateway_id AS key, ${statusSums('postgres')} FROM gateway_stats_hourly GROUP BY 1`);
  } else {
    rows = await query(db.url, `SELECT ${from === 'rows' ? '' : hour}tenant_id || '|' || gateway_id AS key, ${classes} FROM gateway_telemetry GROUP BY 1`);
  }
  return new Map(rows.map((r) => [r.key as string, STATUS_COLUMNS.map((c) => `${c}=${r[c]}`).join(' ')]));
}

function compareClasses(truth: ReadonlyMap<string, string>, view: ReadonlyMap<string, string>, where: string): string | null {
  if (view.size !== truth.size) return `${where}: status classes for ${view.size} keys, gateway_telemetry has ${truth.size}`;
  for (const [key, t] of truth) if (view.get(key) !== t) return `${where} ${key}: ${view.get(key) ?? 'no row'}, gateway_telemetry ${t}`;
  return null;
}

/** Exact counts first (cheap to poll), then the percentiles. Returns a description of the first mismatch, or null. */
function compare(truth: readonly Truth[], view: ReadonlyArray<{ key: string; requests: string; successes: string; spend: string }>, where: string): string | null {
  const got = new Map(view.map((v) => [v.key, v]));
  if (view.length !== truth.length) return `${where}: ${view.length} keys, PostgreSQL has ${truth.length}`;
  for (const t of truth) {
    const v = got.get(t.key);
    if (v === undefined) return `${where}: no row for ${t.key}`;
    if (v.requests !== String(t.requests) || v.successes !== String(t.successes) || v.spend !== t.spend) {
      return `${where} ${t.key}: requests/successes/spend ${v.requests}/${v.successes}/${v.spend}, PostgreSQL ${t.requests}/${t.successes}/${t.spend}`;
    }
  }
  return null;
}

async function reconcile(): Promise<string | null> {
  // Asked first so that polling before the receiver applied its DDL is quiet (the test
  // client logs every failed query).
  const tables = await ch.client.query({ query: `SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'rollup_minute'`, format: 'JSONEachRow' });
  if ((await tables.json()).length === 0) return 'ClickHouse has no rollup_minute table: the receiver did not apply schema/clickhouse (is RollupService wired in?)';
  const agents = await agentTruth();
  const gateways = await gatewayTruth();
  return (
    compare(agents.perAgent, await clickhouseView('agent', 'entity_id'), 'ClickHouse agents') ??
    compare(agents.perVendor, await clickhouseView('agent', `concat(entity_id, '|', vendor_id)`), 'ClickHouse agent×vendor') ??
    compare(gateways.perGateway, await clickhouseView('gateway', `concat(tenant_id, '|', entity_id)`), 'ClickHouse gateways') ??
    compare(agents.perHour, await hourlyView('agent_stats_hourly'), 'agent_stats_hourly') ??
    compare(gateways.perHour, await hourlyView('gateway_stats_hourly'), 'gateway_stats_hourly') ??
    compareClasses(await gatewayClasses('rows'), await gatewayClasses('clickhouse'), 'ClickHouse gateway status classes') ??
    compareClasses(await gatewayClasses('rows per hour'), await gatewayClasses('gateway_stats_hourly'), 'gateway_stats_hourly status classes')
  );
}


function agentEvents(agent: TestAgent, n: number, seed: number, time: () => Date): CloudEvent[] {
  const latencies = latencySample(n, seed);
  return latencies.map((latency, i) =>
    interactionEvent(agent.agentId, {
      time: rfc3339(time()),
      data: {
        vendor_id: VENDORS[(seed + i) % VENDORS.length],
        success: (seed + i) % 7 !== 0,
        latency_ms: latency,
        // Now and then a decimal string past 2^53, where a float would lose the last digit
        // (sums stay below 2^64, where ClickHouse's sum() would wrap; see the DDL).
        amount_atomic: i % 50 === 0 ? '9007199254740993' : 1000 + ((seed * 31 + i) % 997),
      },
    }),
  );
}

/** A failed request's body with the receiver's last log lines: the cause is usually there. */
function explain(body: string): string {
  return `${body}\n--- receiver stderr ---\n${tailLines(receiver.stderrText(), 15)}`;
}

async function postGateway(events: CloudEvent[]): Promise<void> {
  const res = await postEvents(receiver.url, INGEST_PATH, encodeJsonBatch(events), { authorization: `Bearer ${apiKey}` });
  expect(res.status, explain(res.text)).toBe(202);
}

async function postAgent(agent: TestAgent, events: CloudEvent[]): Promise<void> {
  const res = await postAgentBatch(receiver.url, agent, events, { signer: 'node' });
  expect(res.status, explain(res.text)).toBe(202);
  expect((res.json as { accepted: number }).accepted).toBe(events.length);
}

describe('rollup reconciliation, end to end', () => {
  it('matches what PostgreSQL stored, in ClickHouse and in the hourly tables, and stays exact across a graceful stop', async () => {
    const agents = [newAgent(), newAgent(), newAgent(), newAgent()];
    const now = (): Date => new Date();
    const lateMinute = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 7 * MINUTE + 15_000);

    // 1. The mixed load: agents over three vendors, some batches retried whole, some half
    //    duplicated; one event in a minute seven minutes back.
    const sent: Array<[TestAgent, CloudEvent[]]> = [];
    for (const [i, agent] of agents.entries()) {
      for (let b = 0; b < 3; b++) {
        const events = agentEvents(agent, 60 + i * 20, i * 10 + b + 1, now);
        await postAgent(agent, events);
        sent.push([agent, events]);
      }
    }
    const [firstAgent, firstBatch] = sent[0] as [TestAgent, CloudEvent[]];
    await postAgent(firstAgent, firstBatch); // a whole retry: stored once, counted once
    const [otherAgent, otherBatch] = sent[4] as [TestAgent, CloudEvent[]];
    await postAgent(otherAgent, [...otherBatch.slice(0, 30), ...agentEvents(otherAgent, 30, 99, now)]); // half duplicates
    const early = agentEvents(agents[1] as TestAgent, 5, 123, () => lateMinute);
    await postAgent(agents[1] as TestAgent, early);

    const gatewayBatch = Array.from({ length: 120 }, (_, i) =>
      gatewayEvent({
        data: {
          gateway_id: `gw-e2e-${i % 2}`,
          vendor_id: VENDORS[i % 3],
          // Every class (1xx is the rest), in proportions that differ per gateway (i % 2).
          status_code: [200, 200, 201, 404, 500, 200, 101, 302, 503, 429, 304][i % 11],
          latency_ms: latencySample(1, i + 1)[0],
          amount_atomic: i % 4 === 0 ? undefined : 500 + i,
          payment_verified: i % 5 !== 0,
        },
      }),
    );
    await postGateway(gatewayBatch);
    await postGateway(gatewayBatch.slice(0, 40)); // a gateway's retry

    // 2. Rollups catch up with what was stored (flush interval 200 ms).
    await expectReconciled(reconcile, () => receiver.stderrText(), 20_000);

    // 3. A late event for the early minute, after that minute was flushed: a correcting row.
    const lateAgent = agents[1] as TestAgent;
    const late = agentEvents(lateAgent, 1, 124, () => lateMinute);
    await postAgent(lateAgent, late);
    await expectReconciled(reconcile, () => receiver.stderrText(), 20_000);
    const lateVendor = (late[0]?.data as { vendor_id: string }).vendor_id;
    const rs = await ch.client.query({
      query: `SELECT count() AS n FROM rollup_minute FINAL
              WHERE entity_id = '${lateAgent.agentId}' AND minute = toDateTime('${new Date(Math.floor(lateMinute.getTime() / MINUTE) * MINUTE).toISOString().slice(0, 19).replace('T', ' ')}', 'UTC')
                AND vendor_id = '${lateVendor}'`,
      format: 'JSONEachRow',
    });
    const [{ n } = { n: '0' }] = await rs.json<{ n: string }>();
    const earlyForVendor = early.filter((e) => (e.data as { vendor_id: string }).vendor_id === lateVendor).length;
    expect(Number(n)).toBe(earlyForVendor > 0 ? 2 : 1);

    // 4. Percentiles within precision of the raw rows, per agent (ClickHouse, merged) and per
    //    (hour, agent) / (hour, gateway) (PostgreSQL).
    const truth = await agentTruth();
    const chAgents = new Map((await clickhouseView('agent', 'entity_id')).map((v) => [v.key, v]));
    for (const t of truth.perAgent) {
      const merged = mergeEncodedHistograms(chAgents.get(t.key)?.hdrs ?? []);
      expect(merged.totalCount).toBe(t.requests);
      for (const p of [50, 99]) expect(withinPrecision(merged.getValueAtPercentile(p), exactPercentile(t.latencies, p)), `${t.key} p${p}`).toBe(true);
    }
    const hourly = new Map((await hourlyView('agent_stats_hourly')).map((v) => [v.key, v]));
    for (const t of truth.perHour) {
      const row = hourly.get(t.key);
      expect(withinPrecision(row?.p50 ?? -1, exactPercentile(t.latencies, 50)), `${t.key} p50`).toBe(true);
      expect(withinPrecision(row?.p99 ?? -1, exactPercentile(t.latencies, 99)), `${t.key} p99`).toBe(true);
    }
    const gwHourly = new Map((await hourlyView('gateway_stats_hourly')).map((v) => [v.key, v]));
    for (const t of (await gatewayTruth()).perHour) {
      expect(withinPrecision(gwHourly.get(t.key)?.p99 ?? -1, exactPercentile(t.latencies, 99)), `${t.key} p99`).toBe(true);
    }

    // 5. A graceful stop flushes the rest and adds nothing twice.
    expect(await receiver.stop()).toBe(0);
    expect(await reconcile()).toBeNull();
  }, 120_000);
});
