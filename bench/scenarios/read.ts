/**
 * `read`: the read API's latency on a month of history (docs/read-api.md §3 targets: p99 ≤
 * 25 ms per endpoint on 30 days of 10,000 agents and 10,000,000 interactions). The history is
 * written by SQL (read-dataset.ts), then each endpoint is asked at a fixed rate (open loop:
 * a slow answer does not slow the asking) for random agents of the tenant, and its p50/p99 is
 * printed beside two ceilings measured in the same run: the same read function called in this
 * process on its own pool (the SQL and the merging, without HTTP or authentication), and the
 * server's /healthz (HTTP alone). `SELECT 1` gives the bare round trip to PostgreSQL. Each
 * endpoint is also asked one request at a time first: its service time without queueing, and
 * the CPU the read code itself spends per call. Then ingest (signed batches of 100 events,
 * read-ingest.ts): its maximum alone, each endpoint again at `rate` while ingest runs at half
 * that maximum, then ingest's maximum while every endpoint in turn is asked at `rate` (and,
 * as its ceilings, while only /healthz and only the cheapest endpoint are), each between two
 * runs alone whose mean is its reference (the tables grow, the machine's speed drifts).
 *
 * Size: BENCH_READ_AGENTS and BENCH_READ_INTERACTIONS (default 10,000 and 10,000,000; with
 * --quick 1,000 and 1,000,000: the same interactions per agent, so each read touches as many
 * rows as at full size), BENCH_READ_RATE requests/s (200) and BENCH_READ_SECONDS per endpoint
 * (20; 8 with --quick).
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import { createApiKey } from '../../src/api-keys/index.js';
import { agentHistory, agentMetrics, agentVendors, balancePoints } from '../../src/read/index.js';
import type { BenchContext } from '../bench-context.js';
import { CpuMeter, type CpuSplit } from '../proc-sampler.js';
import { buildReadDataset, READ_TENANT, readAgentId, type ReadDatasetSize } from './read-dataset.js';
import { ReadScenarioIngest, type IngestRun } from './read-ingest.js';

const GOAL_P99_MS = 25;
/** Requests of the one-at-a-time pass per endpoint and side. */
const SEQUENTIAL_CALLS = 200;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface Percentiles {
  n: number;
  errors: number;
  /** The failed calls by what failed: an HTTP status, or the error's message. */
  failures: Record<string, number>;
  p50: number;
  p99: number;
}

export interface ReadEndpointResult {
  name: string;
  /** At `rate` requests/s, open loop: what the contract's target is about. */
  http: Percentiles;
  /** The same read function in the bench process: the ceiling without HTTP and authentication. */
  inProcess: Percentiles;
  /** One request at a time (no queueing): the service time, HTTP and in-process. */
  httpSequential: Percentiles;
  inProcessSequential: Percentiles;
  /** CPU time of this process per in-process call (the read code's own work, without PostgreSQL's). */
  inProcessCpuMs: number;
  /** At `rate` requests/s over HTTP while ingest runs at half its maximum, and the ingest rate reached meanwhile. */
  httpUnderIngest: Percentiles;
  ingestMeanwhilePerS: number;
  /** Where the CPU went meanwhile (cores): what limits reads under ingest on this machine. */
  cpuUnderIngest: CpuSplit;
}

/** Ingest's maximum under `rate` requests/s of one load, between a run alone before it and one after. */
export interface IngestUnderLoad {
  /** Every endpoint in turn (the goal's load), or one kind of request alone (its ceilings). */
  name: string;
  aloneBefore: IngestRun;
  underReads: IngestRun;
  aloneAfter: IngestRun;
  /** The requests asked meanwhile. */
  reads: Percentiles;
  /** underReads ÷ the mean of the two runs alone. */
  ratio: number;
  /** Where the CPU went under load (cores). */
  cpu: CpuSplit;
}

/** The goal's load first, then its ceilings: GET /healthz alone, the cheapest endpoint alone. */
export interface IngestUnderReads {
  loads: IngestUnderLoad[];
  /** The goal figure: loads[0].ratio. */
  ratio: number;
}

export interface ReadScenario {
  size: ReadDatasetSize;
  buildSeconds: Record<string, number>;
  rate: number;
  seconds: number;
  goalP99Ms: number;
  endpoints: ReadEndpointResult[];
  /** GET /healthz on the same server: HTTP alone. */
  httpFloor: Percentiles;
  /** The same while ingest runs at half its maximum: the floor of every endpoint's figure under ingest. */
  httpFloorUnderIngest: Percentiles;
  /** SELECT 1 from this process: the round trip to PostgreSQL. */
  select1: Percentiles;
  ingest: IngestUnderReads;
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Math.max(1, Number.parseInt(v, 10));
}

/** What one call gave: true, or what failed (an HTTP status, an error's message). */
type Outcome = boolean | string;

/** Tallies failed calls by what failed. */
class Failures {
  readonly byKind: Record<string, number> = {};
  count = 0;

  add(outcome: Outcome | Error): void {
    const kind = outcome instanceof Error ? outcome.message : outcome === false ? 'failed' : String(outcome);
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    this.count++;
  }
}

function percentiles(samples: number[], failures: Failures): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN) * 100) / 100;
  return { n: s.length, errors: failures.count, failures: failures.byKind, p50: at(0.5), p99: at(0.99) };
}

/** Calls `once` `rate` times a second for `seconds`, without waiting for answers; their latencies. */
async function openLoop(rate: number, seconds: number, once: (i: number) => Promise<Outcome>): Promise<Percentiles> {
  const total = rate * seconds;
  const intervalMs = 1000 / rate;
  const samples: number[] = [];
  const failures = new Failures();
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inFlight.push(
      once(i).then(
        (outcome) => {
          if (outcome === true) samples.push(performance.now() - t0);
          else failures.add(outcome);
        },
        (err: Error) => failures.add(err),
      ),
    );
  }
  await Promise.all(inFlight);
  return percentiles(samples, failures);
}

/** Calls `once` `count` times, each after the previous one answered. */
async function sequential(count: number, once: (i: number) => Promise<Outcome>): Promise<Percentiles> {
  const samples: number[] = [];
  const failures = new Failures();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const outcome = await once(i).catch((err: Error) => err);
    if (outcome === true) samples.push(performance.now() - t0);
    else failures.add(outcome);
  }
  return percentiles(samples, failures);
}

const cores = (n: number) => n.toFixed(2);
const fmtIngest = (r: IngestRun) => `${r.eventsPerS} events/s (p99 ${r.p99Ms} ms${r.errors > 0 ? `, ${r.errors} ERRORS` : ''})`;
const fmtFailures = (p: Percentiles) =>
  Object.entries(p.failures)
    .map(([kind, n]) => `${kind}: ${n}`)
    .join(', ');
const fmt = (p: Percentiles) => `p50 ${p.p50} ms, p99 ${p.p99} ms (${p.n} answers${p.errors > 0 ? `, ${p.errors} ERRORS (${fmtFailures(p)})` : ''})`;

export async function runReadScenario(ctx: BenchContext): Promise<ReadScenario> {
  const url = ctx.receiver.databaseUrl;
  if (url === null) throw new Error('the read scenario needs the receiver database');
  const quick = ctx.opts.quick;
  const size: ReadDatasetSize = {
    agents: envInt('BENCH_READ_AGENTS', quick ? 1_000 : 10_000),
    interactions: envInt('BENCH_READ_INTERACTIONS', quick ? 1_000_000 : 10_000_000),
    days: 30,
    vendorsPerAgent: 5,
  };
  const rate = envInt('BENCH_READ_RATE', 200);
  const seconds = envInt('BENCH_READ_SECONDS', quick ? 8 : 20);
  ctx.say(`  building ${size.days} days of ${size.agents} agents, ${size.interactions} interactions (SQL)`);
  ctx.progress.phase('read: building the data set');
  const buildSeconds = await buildReadDataset(url, size, Date.now(), (line) => ctx.detail(line));
  ctx.say(`  built in ${Object.values(buildSeconds).reduce((a, b) => a + b, 0).toFixed(0)} s (${Object.entries(buildSeconds).map(([k, v]) => `${k} ${v}`).join(', ')})`);

  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const keyClient = await pool.connect();
  let key: string;
  try {
    key = (await createApiKey(keyClient, { tenantId: READ_TENANT, name: 'bench read', test: true, scopes: ['read'] })).key;
  } finally {
    keyClient.release();
  }
  const headers = { authorization: `Bearer ${key}` };
  // Agent of request i: spread over the tenant by a multiplicative hash, so caches see no order.
  const agent = (i: number) => readAgentId(1 + ((i * 2_654_435_761) % size.agents));
  const get = async (path: string): Promise<Outcome> => {
    const res = await fetch(ctx.receiver.url + path, { headers });
    const body = await res.text();
    if (res.status === 200) return true;
    // The status and the error code of the body (docs/read-api.md), e.g. `503 database_unavailable`.
    const code = /"code"\s*:\s*"([a-z_]+)"/.exec(body)?.[1];
    return code === undefined ? String(res.status) : `${res.status} ${code}`;
  };
  const window = (spanMs: number) => {
    const now = Date.now();
    return { fromMs: now - spanMs, toMs: now };
  };
  // In process as over HTTP: a key of the data set's tenant, so the link check runs in both.
  const as = (id: string) => ({ agentId: id, tenantId: READ_TENANT });
  const cases: { name: string; http: (id: string) => Promise<Outcome>; direct: (id: string) => Promise<unknown> }[] = [
    { name: 'metrics 24h', http: (id) => get(`/v1/agent/metrics?agent_id=${id}&range=24h`), direct: (id) => agentMetrics(pool, as(id), window(DAY), Date.now()) },
    { name: 'metrics 7d', http: (id) => get(`/v1/agent/metrics?agent_id=${id}&range=7d`), direct: (id) => agentMetrics(pool, as(id), window(7 * DAY), Date.now()) },
    { name: 'vendors 7d', http: (id) => get(`/v1/agent/vendors?agent_id=${id}&range=7d`), direct: (id) => agentVendors(pool, as(id), window(7 * DAY)) },
    {
      name: 'history',
      http: (id) => get(`/v1/agent/history?agent_id=${id}`),
      direct: (id) => agentHistory(pool, as(id), { window: null, vendorId: undefined, success: undefined, cursor: undefined, limit: 50 }),
    },
    { name: 'balance 24h', http: (id) => get(`/v1/agent/balance?agent_id=${id}&range=24h`), direct: (id) => balancePoints(pool, as(id), window(DAY)) },
  ];

  const endpoints: ReadEndpointResult[] = [];
  try {
    ctx.progress.phase('read: ceilings');
    const select1 = await openLoop(rate, Math.min(seconds, 5), async () => (await pool.query('SELECT 1')).rowCount === 1);
    const httpFloor = await openLoop(rate, Math.min(seconds, 5), () => get('/healthz'));
    const select1Sequential = await sequential(SEQUENTIAL_CALLS, async () => (await pool.query('SELECT 1')).rowCount === 1);
    const httpFloorSequential = await sequential(SEQUENTIAL_CALLS, () => get('/healthz'));
    ctx.say(`  ceilings at ${rate}/s: SELECT 1 ${fmt(select1)}; GET /healthz ${fmt(httpFloor)}`);
    ctx.say(`  ceilings one at a time: SELECT 1 ${fmt(select1Sequential)}; GET /healthz ${fmt(httpFloorSequential)}; load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
    const measured: Omit<ReadEndpointResult, 'httpUnderIngest' | 'ingestMeanwhilePerS' | 'cpuUnderIngest'>[] = [];
    for (const c of cases) {
      ctx.progress.phase(`read: ${c.name}`);
      const cpu0 = process.cpuUsage();
      const inProcessSequential = await sequential(SEQUENTIAL_CALLS, async (i) => (await c.direct(agent(i)), true));
      const cpu = process.cpuUsage(cpu0);
      const inProcessCpuMs = Math.round(((cpu.user + cpu.system) / 1000 / SEQUENTIAL_CALLS) * 100) / 100;
      const httpSequential = await sequential(SEQUENTIAL_CALLS, (i) => c.http(agent(i + 3)));
      const inProcess = await openLoop(rate, seconds, async (i) => (await c.direct(agent(i)), true));
      const http = await openLoop(rate, seconds, (i) => c.http(agent(i + 7)));
      measured.push({ name: c.name, http, inProcess, httpSequential, inProcessSequential, inProcessCpuMs });
      const verdict = http.p99 <= GOAL_P99_MS ? 'meets' : 'MISSES';
      ctx.say(
        `  ${c.name.padEnd(12)} one at a time: HTTP ${fmt(httpSequential)}, in-process ${fmt(inProcessSequential)}, ${inProcessCpuMs} ms CPU each in-process; ` +
          `p99 ÷ in-process ${(httpSequential.p99 / inProcessSequential.p99).toFixed(2)}`,
      );
      ctx.say(
        `  ${c.name.padEnd(12)} at ${rate}/s: HTTP ${fmt(http)}: ${verdict} p99 ≤ ${GOAL_P99_MS} ms; in-process ${fmt(inProcess)}; ` +
          `p99 ÷ in-process ${(http.p99 / inProcess.p99).toFixed(2)}, − /healthz p99 ${(http.p99 - httpFloor.p99).toFixed(2)} ms`,
      );
    }

    const ingest = new ReadScenarioIngest(ctx);
    ctx.progress.phase('read: ingest alone');
    const first = await ingest.max('alone', seconds)();
    const half = first.eventsPerS / 2;
    ctx.say(`  ingest alone: ${fmtIngest(first)}; reads again at ${rate}/s with ingest at half that (${Math.round(half)} events/s)`);
    // The floor first: HTTP alone under the same ingest.
    ctx.progress.phase('read: /healthz under ingest');
    const floorPaced = ingest.paced('at half', seconds, half);
    await ctx.pg.checkpoint();
    const [httpFloorUnderIngest, floorMeanwhile] = await Promise.all([openLoop(rate, seconds, () => get('/healthz')), floorPaced()]);
    ctx.say(`  GET /healthz at ${rate}/s under ingest: ${fmt(httpFloorUnderIngest)}; ingest meanwhile ${fmtIngest(floorMeanwhile)}`);
    for (const [i, c] of cases.entries()) {
      ctx.progress.phase(`read: ${c.name} under ingest`);
      const paced = ingest.paced('at half', seconds, half);
      await ctx.pg.checkpoint();
      const cpu = new CpuMeter(ctx.receiver.pid, ctx.pg.postmasterPid, ctx.cores);
      cpu.start();
      const [httpUnderIngest, meanwhile] = await Promise.all([openLoop(rate, seconds, (j) => c.http(agent(j + 11))), paced()]);
      const cpuUnderIngest = cpu.stop();
      endpoints.push({ ...(measured[i] as (typeof measured)[number]), httpUnderIngest, ingestMeanwhilePerS: meanwhile.eventsPerS, cpuUnderIngest });
      const verdict = httpUnderIngest.p99 <= GOAL_P99_MS ? 'meets' : 'MISSES';
      ctx.say(
        `  ${c.name.padEnd(12)} at ${rate}/s under ingest: HTTP ${fmt(httpUnderIngest)}: ${verdict} p99 ≤ ${GOAL_P99_MS} ms; ingest meanwhile ${fmtIngest(meanwhile)}; ` +
          `CPU (cores of ${ctx.cores}): receiver main ${cores(cpuUnderIngest.serverMain)}, its other threads ${cores(cpuUnderIngest.serverOtherThreads)}, ` +
          `PostgreSQL ${cores(cpuUnderIngest.postgres)}, load generator ${cores(cpuUnderIngest.client)}, others ${cores(cpuUnderIngest.other)}`,
      );
    }
    // Ingest's maximum under `rate` requests/s of every endpoint in turn (the goal), then of two
    // lighter loads as its ceilings: GET /healthz (HTTP alone, no PostgreSQL) and the cheapest
    // endpoint alone; what they cost ingest, any read of their kind costs it on this machine.
    // Each run under load sits between two runs alone and is compared with their mean: ingest's
    // maximum drifts as the tables grow and as other work on the machine comes and goes.
    const cheapest = cases[cases.length - 1] as (typeof cases)[number];
    const loadKinds: { name: string; once: (j: number) => Promise<Outcome> }[] = [
      { name: 'every endpoint in turn', once: (j) => (cases[j % cases.length] as (typeof cases)[number]).http(agent(j + 13)) },
      { name: 'GET /healthz alone', once: () => get('/healthz') },
      { name: `${cheapest.name} alone`, once: (j) => cheapest.http(agent(j + 17)) },
    ];
    ctx.progress.phase('read: ingest alone');
    let before = await ingest.max('alone', seconds)();
    const loads: IngestUnderLoad[] = [];
    for (const kind of loadKinds) {
      ctx.progress.phase(`read: ingest under ${kind.name}`);
      const cpu = new CpuMeter(ctx.receiver.pid, ctx.pg.postmasterPid, ctx.cores);
      cpu.start();
      const [underReads, reads] = await Promise.all([ingest.max(`under ${kind.name}`, seconds)(), openLoop(rate, seconds, kind.once)]);
      const used = cpu.stop();
      ctx.progress.phase('read: ingest alone');
      const after = await ingest.max('alone', seconds)();
      const ratio = Math.round((underReads.eventsPerS / ((before.eventsPerS + after.eventsPerS) / 2)) * 1000) / 1000;
      loads.push({ name: kind.name, aloneBefore: before, underReads, aloneAfter: after, reads, ratio, cpu: used });
      ctx.say(
        `  ingest maximum under ${rate}/s of ${kind.name} (${fmt(reads)}): ${fmtIngest(underReads)}; alone before ${fmtIngest(before)}, after ${fmtIngest(after)}; ` +
          `÷ alone ${ratio}${loads.length === 1 ? ' (goal ≥ 0.90)' : ' (a ceiling)'}; CPU (cores of ${ctx.cores}): receiver ${cores(used.serverMain + used.serverOtherThreads)}, ` +
          `PostgreSQL ${cores(used.postgres)}, load generator ${cores(used.client)}, others ${cores(used.other)}`,
      );
      before = after;
    }
    return { size, buildSeconds, rate, seconds, goalP99Ms: GOAL_P99_MS, endpoints, httpFloor, httpFloorUnderIngest, select1, ingest: { loads, ratio: (loads[0] as IngestUnderLoad).ratio } };
  } finally {
    await pool.end();
  }
}
