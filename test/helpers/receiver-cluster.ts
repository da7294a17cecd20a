/**
 * Several built receivers on one PostgreSQL (and one ClickHouse), each with its own port and
 * DATA_DIR: start them, kill one with SIGKILL and restart it on its DATA_DIR, wait until the
 * cluster has settled (spools replayed, tallies folded, the ClickHouse outbox sent), and
 * compare every rollup with the raw rows, exactly. Shared by the scale-out and the
 * crash-reconciliation tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { createApiKey } from '../../src/api-keys/index.js';
import type { TestClickhouseDatabase } from './clickhouse.js';
import { getOnce } from './http-get.js';
import { tailLines } from './log-tail.js';
import { query } from './postgres.js';
import { startReceiver, type RunningReceiver } from './receiver.js';

/** Several receivers starting at once on a busy two-core machine can take a while. */
const READY_TIMEOUT_MS = 60_000;

export class ReceiverCluster {
  private constructor(
    private readonly envs: Record<string, string>[],
    readonly members: RunningReceiver[],
  ) {}

  /**
   * Starts one receiver per entry of `envs` (DATABASE_URL, CLICKHOUSE_URL, … each), all at
   * once, each on a DATA_DIR of the cluster's: a receiver's own DATA_DIR would be deleted
   * when it exits, spool and all, and a restart must find it as the kill left it.
   */
  static async start(envs: Record<string, string>[]): Promise<ReceiverCluster> {
    const withDirs = await Promise.all(envs.map(async (env) => ({ ...env, DATA_DIR: env.DATA_DIR ?? (await keptDataDir()) })));
    const started = await Promise.allSettled(withDirs.map((env) => startReceiver(env, { readyTimeoutMs: READY_TIMEOUT_MS })));
    const members = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(members.map((m) => m.kill9()));
      throw failed.reason;
    }
    return new ReceiverCluster(withDirs, members);
  }

  urls(): string[] {
    return this.members.map((m) => m.url);
  }

  member(i: number): RunningReceiver {
    const m = this.members[i];
    if (m === undefined) throw new RangeError(`no receiver ${i} in a cluster of ${this.members.length}`);
    return m;
  }

  /**
   * SIGKILL receiver `i` (no shutdown code runs: what it acknowledged is in PostgreSQL or
   * its spool) and start it again on the same DATA_DIR, with a new port; `env` replaces
   * keys of its environment.
   */
  async crashAndRestart(i: number, env: Record<string, string> = {}): Promise<RunningReceiver> {
    const killed = this.member(i);
    await killed.kill9();
    const restarted = await startReceiver({ ...this.envs[i], ...env, DATA_DIR: killed.dataDir }, { readyTimeoutMs: READY_TIMEOUT_MS });
    this.envs[i] = { ...this.envs[i], ...env, DATA_DIR: killed.dataDir };
    this.members[i] = restarted;
    return restarted;
  }

  /** The last lines of every receiver's stderr, for failure messages. */
  stderr(lines = 15): string {
    return this.members.map((m, i) => `--- receiver ${i} (${m.url}) ---\n${tailLines(m.stderrText(), lines)}`).join('\n');
  }

  /** Batches waiting in the spools of the receivers numbered `which` (default all), from their /metrics. */
  async spooledBatches(which: readonly number[] = this.members.map((_, i) => i)): Promise<number> {
    const counts = await Promise.all(
      which.map(async (i) => {
        const m = this.member(i);
        const body = (await getOnce(`${m.url}/metrics`, 5_000)).body;
        return Number(/^machpay_spool_records (\d+)/m.exec(body)?.[1] ?? 'NaN');
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Stops every receiver, then deletes the DATA_DIRs the cluster made. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop().catch(() => undefined)));
    await Promise.all(this.envs.map((env) => (env.DATA_DIR?.includes(KEPT_PREFIX) === true ? rm(env.DATA_DIR, { recursive: true, force: true }) : undefined)));
  }
}

const KEPT_PREFIX = 'kept-receiver-';

/**
 * A DATA_DIR that outlives its receiver (startReceiver deletes only the ones it makes), under
 * the global setup's run directory so a killed run's leftovers are swept with it. Whoever
 * asks for it deletes it.
 */
export async function keptDataDir(): Promise<string> {
  let base = tmpdir();
  try {
    const runDir = inject('testRunDir');
    if (typeof runDir === 'string' && runDir !== '') base = runDir;
  } catch {
    // No global setup: the system temp dir.
  }
  return mkdtemp(join(base, KEPT_PREFIX));
}

/** An ingest API key of `tenant` for gateway events, made in the (migrated) database. */
export async function createIngestKey(databaseUrl: string, tenant: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { key } = await createApiKey(client, { tenantId: tenant, name: 'cluster-load', test: true, scopes: ['ingest'] });
    return key;
  } finally {
    await client.end();
  }
}

/** Acknowledged events that are not stored: `agentId:nonce` and `source id` keys, as SpreadingProducer records them. */
export async function missingEvents(databaseUrl: string, interactions: Iterable<string>, gatewayEvents: Iterable<string> = []): Promise<string[]> {
  const storedInteractions = new Set((await query<{ k: string }>(databaseUrl, `SELECT agent_id || ':' || nonce::text AS k FROM agent_interactions`)).map((r) => r.k));
  const storedGateway = new Set((await query<{ k: string }>(databaseUrl, `SELECT event_source || ' ' || event_id AS k FROM gateway_telemetry`)).map((r) => r.k));
  return [...[...interactions].filter((k) => !storedInteractions.has(k)), ...[...gatewayEvents].filter((k) => !storedGateway.has(k))];
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Tallies not folded yet and ClickHouse rows not sent yet; both 0 once the folders and senders have caught up. */
export async function rollupBacklog(databaseUrl: string): Promise<{ pending: number; outbox: number }> {
  const [row] = await query<{ pending: string; outbox: string }>(
    databaseUrl,
    `SELECT (SELECT count(*) FROM rollup_pending)::text AS pending, (SELECT count(*) FROM rollup_clickhouse_outbox)::text AS outbox`,
  );
  return { pending: Number(row?.pending), outbox: Number(row?.outbox) };
}

interface Totals {
  key: string;
  requests: string;
  successes: string;
  spend: string;
  latency: string;
}

const FIGURES = `count(*)::text AS requests, count(*) FILTER (WHERE %OK%)::text AS successes, COALESCE(sum(amount_atomic), 0)::text AS spend, COALESCE(sum(latency_ms), 0)::text AS latency`;
const SUMS = `sum(total_requests)::text AS requests, sum(successful_requests)::text AS successes, sum(total_spend_atomic)::text AS spend, sum(latency_sum_ms)::text AS latency`;
const AGENT_KEY = `agent_id`;
const GATEWAY_KEY = `tenant_id || '/' || gateway_id`;

function canonical(rows: Totals[]): string {
  return JSON.stringify(
    rows.map((r) => [r.key, r.requests, r.successes, r.spend, r.latency]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : (a[0] as string) > (b[0] as string) ? 1 : 0)),
  );
}

/**
 * Every rollup, summed per agent and per (tenant, gateway): requests, successes, spend and
 * latency sum, compared with the same figures computed from the raw rows. Null when all
 * agree; otherwise each table that differs with its figures and the raw ones.
 */
export async function rollupDifferences(databaseUrl: string, clickhouse: TestClickhouseDatabase | null): Promise<string | null> {
  const agentRaw = await query<Totals>(databaseUrl, `SELECT ${AGENT_KEY} AS key, ${FIGURES.replace('%OK%', 'success')} FROM agent_interactions GROUP BY 1`);
  const gatewayRaw = await query<Totals>(databaseUrl, `SELECT ${GATEWAY_KEY} AS key, ${FIGURES.replace('%OK%', 'status_code < 400')} FROM gateway_telemetry GROUP BY 1`);
  const views: [string, string, Totals[]][] = [];
  for (const table of ['agent_stats_minute', 'agent_stats_hourly', 'agent_stats_daily']) {
    views.push([table, 'agent', await query<Totals>(databaseUrl, `SELECT ${AGENT_KEY} AS key, ${SUMS} FROM ${table} GROUP BY 1`)]);
  }
  for (const table of ['gateway_stats_minute', 'gateway_stats_hourly', 'gateway_stats_daily']) {
    views.push([table, 'gateway', await query<Totals>(databaseUrl, `SELECT ${GATEWAY_KEY} AS key, ${SUMS} FROM ${table} GROUP BY 1`)]);
  }
  if (clickhouse !== null) {
    for (const kind of ['agent', 'gateway']) {
      const key = kind === 'agent' ? 'entity_id' : `concat(tenant_id, '/', entity_id)`;
      const rs = await clickhouse.client.query({
        query: `SELECT ${key} AS key, toString(sum(requests)) AS requests, toString(sum(successes)) AS successes, toString(sum(spend_atomic)) AS spend, toString(sum(latency_sum_ms)) AS latency
                FROM rollup_minute FINAL WHERE kind = '${kind}' GROUP BY key`,
        format: 'JSONEachRow',
      });
      views.push([`ClickHouse rollup_minute (${kind})`, kind, await rs.json<Totals>()]);
    }
  }
  const truth = { agent: canonical(agentRaw), gateway: canonical(gatewayRaw) };
  const differences = views.filter(([, kind, rows]) => canonical(rows) !== truth[kind as 'agent' | 'gateway']).map(([name, kind, rows]) => `${name}: ${canonical(rows)}\n  raw ${kind} rows: ${truth[kind as 'agent' | 'gateway']}`);
  return differences.length === 0 ? null : differences.join('\n');
}

/**
 * Waits until the cluster has settled (no batch spooled, no tally unfolded, no ClickHouse
 * row unsent), bounded by `timeoutMs`, then checks once that every rollup equals the raw rows.
 * Settling is waited for; exactness is asserted, never polled for.
 */
export async function expectExactRollups(cluster: ReceiverCluster, databaseUrl: string, clickhouse: TestClickhouseDatabase | null, timeoutMs: number): Promise<void> {
  let backlog = { spooled: -1, pending: -1, outbox: -1 };
  const settled = await pollUntil(async () => {
    backlog = { spooled: await cluster.spooledBatches(), ...(await rollupBacklog(databaseUrl)) };
    return backlog.spooled === 0 && backlog.pending === 0 && (clickhouse === null || backlog.outbox === 0);
  }, timeoutMs);
  expect(settled, `the cluster did not settle within ${timeoutMs} ms: ${JSON.stringify(backlog)}\n${cluster.stderr()}`).toBe(true);
  const differences = await rollupDifferences(databaseUrl, clickhouse);
  expect(differences, `${differences ?? ''}\n${cluster.stderr()}`).toBeNull();
}
