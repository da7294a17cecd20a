/**
 * The `stream` scenario (docs/read-api.md §4 targets): what open subscribers cost ingest, and
 * committed → delivered latency. The headline ingest figure is the receiver's real ingest
 * (stream-ingest.ts, run by bench/run.ts); this file measures the two figures that need the
 * stream in a process of their own:
 *
 * 1. Raw COPY's maximum (a lower bound of the ratio, not the receiver's ingest): two connections COPY batches of interaction rows as fast as PostgreSQL
 *    takes them, each commit followed by the stream's wake-up call, as the receiver's commit
 *    scheduler makes it. Runs alternate between no subscriber anywhere (capture off: the
 *    reader stopped, the raw tables' default NULL) and `subscribers` open streams, each
 *    `agent:*` of a tenant of its own whose agents share the load, so every event is sent to
 *    one subscriber. Before each run without subscribers, capture is switched off again.
 * 2. Latency: `latencySubscribers` streams on `agent:*` of one tenant (each gets every event)
 *    while transactions of 10 rows commit every 10 ms (1000 events/s); the delay is from a
 *    commit's return to each subscriber's receipt of the event.
 *
 * The stream runs in this process, as in the receiver (its main thread commits and fans out);
 * the subscribers are plain sockets in a child process that read everything.
 *
 *   node dist/bench/scenarios/stream.js --database-url=URL [--seconds=8] [--rounds=2]
 *        [--subscribers=1000] [--rows=5000] [--latency-subscribers=100] [--latency-seconds=10] [--json=FILE]
 *
 * PostgreSQL must run on this machine's clock (the delays compare timestamps across processes).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { createApiKey } from '../../src/api-keys/index.js';
import { COPY_COLUMNS } from '../../src/codec/index.js';
import { migrate } from '../../src/database/index.js';
import { registerStreamRoutes, type StreamRoutes } from '../../src/stream/index.js';
import { newAgent } from '../../test/helpers/agent.js';
import { cpuTicks } from '../proc-sampler.js';
import { copyIn } from '../copy-in.js';
import type { StreamIngestResult } from './stream-ingest.js';
import { startSubscribers } from './stream-subscribers.js';

const INTERACTIONS_COPY = `COPY agent_interactions (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN`;

export interface StreamScenarioOptions {
  seconds: number;
  rounds: number;
  subscribers: number;
  rowsPerBatch: number;
  latencySubscribers: number;
  latencySeconds: number;
}

/** CPU seconds per second of a run: this process (COPY driver and stream), the COPY backends, the stream's backends. */
export interface CpuSplit {
  node: number;
  copyBackends: number;
  streamBackends: number;
}

export interface StreamScenarioResult {
  /** The receiver's real ingest with and without subscribers (bench/run.ts runs it; absent from this file's own command). */
  receiverIngest?: StreamIngestResult;
  /** Raw COPY with and without subscribers (rows/s of COPY, not the receiver's ingest). */
  ingest: {
    cpuIdle: CpuSplit[];
    cpuBusy: CpuSplit[];
    subscribers: number;
    /** Rows/s of each run without subscribers, then of each run with them, in run order. */
    idleRowsPerSecond: number[];
    busyRowsPerSecond: number[];
    /** Median with subscribers ÷ median without. */
    ratio: number;
    eventsSent: number;
    resets: number;
  };
  latency: { subscribers: number; eventsPerSecond: number; deliveries: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/** CPU seconds a process has used (user + system), from /proc: PostgreSQL must run on this machine. */
function procCpuSeconds(pid: number): number {
  return (cpuTicks(`/proc/${pid}/stat`) ?? 0) / 100;
}

/** Measures `work`'s CPU split, per second of wall time. */
async function cpuOf<T>(admin: pg.Client, dbName: string, work: () => Promise<T>): Promise<{ out: T; cpu: CpuSplit }> {
  const backends = async (): Promise<Map<number, string>> => {
    const { rows } = await admin.query<{ pid: number; app: string }>('SELECT pid, application_name AS app FROM pg_stat_activity WHERE datname = $1', [dbName]);
    return new Map(rows.map((r) => [r.pid, r.app]));
  };
  const before = await backends();
  const cpu0 = new Map([...before.keys()].map((p) => [p, procCpuSeconds(p)]));
  const node0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await work();
  const wall = (performance.now() - t0) / 1000;
  const node1 = process.cpuUsage(node0);
  const after = await backends();
  const split: CpuSplit = { node: (node1.user + node1.system) / 1e6 / wall, copyBackends: 0, streamBackends: 0 };
  for (const [pid, app] of after) {
    const used = (procCpuSeconds(pid) - (cpu0.get(pid) ?? 0)) / wall;
    if (app === 'bench-copy') split.copyBackends += used;
    else split.streamBackends += used;
  }
  return { out, cpu: split };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.timeOrigin + performance.now();

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  console.log(`  waiting for ${what}`);
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`stream scenario: timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Runs the scenario on a database of its own on `serverUrl` (a superuser URL), then drops it. */
export async function runStreamScenario(serverUrl: string, o: StreamScenarioOptions): Promise<StreamScenarioResult> {
  const dbName = `stream_scenario_${process.pid}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const writers = new pg.Pool({ connectionString: u.toString(), max: 2, application_name: 'bench-copy' });
  const readers = new pg.Pool({ connectionString: u.toString(), max: 8, application_name: 'stream-read' });
  writers.on('error', () => undefined);
  readers.on('error', () => undefined);
  let listenSocket: uWS.us_listen_socket | null = null;
  let stream: StreamRoutes | null = null;
  try {
    // Tenants t0…t{n-1}, one read key and `perTenant` agents each; tenant `lat` for the latency part.
    const perTenant = 4;
    const tenants: { key: string; agents: string[] }[] = [];
    const c = await writers.connect();
    try {
      await migrate(c);
      for (let t = 0; t < o.subscribers; t++) {
        const { key } = await createApiKey(c, { tenantId: `t${t}`, name: 'stream bench', test: true, scopes: ['read'] });
        tenants.push({ key, agents: Array.from({ length: perTenant }, () => newAgent().agentId) });
      }
      const rows = tenants.flatMap((t, i) => t.agents.map((a) => [a, `t${i}`]));
      await c.query(
        "INSERT INTO agents (pubkey, tenant_id, linked_at, first_seen_at, last_seen_at) SELECT a, t, now(), now(), now() FROM unnest($1::text[], $2::text[]) AS x(a, t)",
        [rows.map((r) => r[0]), rows.map((r) => r[1])],
      );
    } finally {
      c.release();
    }
    const agents = tenants.flatMap((t) => t.agents);

    const app = uWS.App();
    // Short linger and resume window: capture goes off within seconds of the last subscriber.
    stream = registerStreamRoutes(app, {
      pool: readers,
      log: pino({ level: 'warn' }),
      secret: randomBytes(32),
      listen: false,
      lingerMs: 300,
      presenceIntervalMs: 200,
      resumeWindowMs: 1000,
    });
    const s = stream;
    listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (sock) => (sock === false ? reject(new Error('stream scenario: did not listen')) : resolve(sock))),
    );
    const port = uWS.us_socket_local_port(listenSocket);
    const captureState = async (): Promise<string> => (await readers.query<{ state: string }>('SELECT state FROM stream_capture')).rows[0]?.state ?? '';

    let nonce = 0;
    const batchText = (rows: number, among: readonly string[]): string => {
      const t = new Date().toISOString();
      const lines: string[] = [];
      for (let i = 0; i < rows; i++) {
        const n = nonce++;
        lines.push(`${t}\t${among[n % among.length]}\tvendor-${n % 7}\t\\N\tGET\t${1000 + (n % 97)}\t\\N\t${n}\tt\t${n % 300}\t\\N\t\\N\t\\N\n`);
      }
      return lines.join('');
    };
    const ingestRun = async (): Promise<number> => {
      const deadline = performance.now() + o.seconds * 1000;
      let rows = 0;
      const loop = async (): Promise<void> => {
        const client = await writers.connect();
        try {
          while (performance.now() < deadline) {
            await copyIn(client, INTERACTIONS_COPY, batchText(o.rowsPerBatch, agents));
            s.notifier.committed();
            rows += o.rowsPerBatch;
          }
        } finally {
          client.release();
        }
      };
      const t0 = performance.now();
      await Promise.all([loop(), loop()]);
      return rows / ((performance.now() - t0) / 1000);
    };

    const idle: number[] = [];
    const busy: number[] = [];
    const cpuIdle: CpuSplit[] = [];
    const cpuBusy: CpuSplit[] = [];
    const fmtCpu = (c: CpuSplit): string =>
      `CPU/s: this process ${c.node.toFixed(2)}, COPY backends ${c.copyBackends.toFixed(2)}, stream backends ${c.streamBackends.toFixed(2)}`;
    const sentBefore = s.hub.snapshot().delivered;
    for (let round = 0; round < o.rounds; round++) {
      await waitFor('capture off', async () => (await captureState()) === 'off');
      await admin.query('CHECKPOINT');
      const i = await cpuOf(admin, dbName, ingestRun);
      idle.push(i.out);
      cpuIdle.push(i.cpu);
      console.log(`  ingest without subscribers: ${i.out.toFixed(0)} rows/s; ${fmtCpu(i.cpu)}`);
      const subs = startSubscribers(
        port,
        tenants.map((t) => ({ path: '/v1/agent/events?topic=agent:*', key: t.key })),
        false,
      );
      await waitFor('subscribers open', () => subs.opened() >= o.subscribers && s.hub.snapshot().subscribers >= o.subscribers);
      await admin.query('CHECKPOINT');
      const b = await cpuOf(admin, dbName, ingestRun);
      busy.push(b.out);
      cpuBusy.push(b.cpu);
      await sleep(500);
      console.log(`  ingest with ${o.subscribers} subscribers: ${b.out.toFixed(0)} rows/s; ${subs.events()} events read; ${fmtCpu(b.cpu)}`);
      await subs.stop();
    }
    const eventsSent = s.hub.snapshot().delivered - sentBefore;
    const resets = s.hub.snapshot().resets;

    // Latency: one tenant's agents, `latencySubscribers` streams on its agent:*. It starts from
    // capture off, so the backlog of the last run with 1000 subscribers is not in its figures.
    await waitFor('capture off', async () => (await captureState()) === 'off');
    const lat = tenants[0] as { key: string; agents: string[] };
    const subs = startSubscribers(
      port,
      Array.from({ length: o.latencySubscribers }, () => ({ path: '/v1/agent/events?topic=agent:*', key: lat.key })),
      true,
    );
    await waitFor('latency subscribers open', () => subs.opened() >= o.latencySubscribers);
    const committedAt = new Map<number, number>();
    const first = nonce;
    const client = await writers.connect();
    const t0 = performance.now();
    try {
      for (let tick = 0; tick < o.latencySeconds * 100; tick++) {
        const from = nonce;
        await copyIn(client, INTERACTIONS_COPY, batchText(10, lat.agents));
        const at = now();
        for (let n = from; n < nonce; n++) committedAt.set(n, at);
        s.notifier.committed();
        const wait = t0 + (tick + 1) * 10 - performance.now();
        if (wait > 0) await sleep(wait);
      }
    } finally {
      client.release();
    }
    const rate = (nonce - first) / ((performance.now() - t0) / 1000);
    const expected = (nonce - first) * o.latencySubscribers;
    await waitFor('latency events delivered', () => subs.events() >= expected, 60_000).catch(() => undefined);
    const arrivals = await subs.stop();
    const delays: number[] = [];
    for (let i = 0; i < arrivals.length; i += 2) {
      const at = committedAt.get(arrivals[i] as number);
      if (at !== undefined) delays.push((arrivals[i + 1] as number) - at);
    }
    delays.sort((a, b) => a - b);
    const pct = (p: number): number => delays[Math.min(delays.length - 1, Math.max(0, Math.ceil((p / 100) * delays.length) - 1))] ?? NaN;
    return {
      ingest: { cpuIdle, cpuBusy, subscribers: o.subscribers, idleRowsPerSecond: idle, busyRowsPerSecond: busy, ratio: median(busy) / median(idle), eventsSent, resets },
      latency: { subscribers: o.latencySubscribers, eventsPerSecond: rate, deliveries: delays.length, p50Ms: pct(50), p99Ms: pct(99), maxMs: pct(100) },
    };
  } finally {
    await stream?.close();
    if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket);
    await writers.end();
    await readers.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      subscribers: { type: 'string' },
      rows: { type: 'string' },
      'latency-subscribers': { type: 'string' },
      'latency-seconds': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const url = values['database-url'];
  if (url === undefined) throw new Error('--database-url=postgres://… (a superuser URL) is required');
  const r = await runStreamScenario(url, {
    seconds: Number(values.seconds ?? 8),
    rounds: Number(values.rounds ?? 2),
    subscribers: Number(values.subscribers ?? 1000),
    rowsPerBatch: Number(values.rows ?? 5000),
    latencySubscribers: Number(values['latency-subscribers'] ?? 100),
    latencySeconds: Number(values['latency-seconds'] ?? 10),
  });
  const i = r.ingest;
  console.log(
    `raw COPY with ${i.subscribers} subscribers ÷ without: ×${i.ratio.toFixed(3)} (medians of ${i.busyRowsPerSecond.map((x) => x.toFixed(0)).join(', ')} ÷ ${i.idleRowsPerSecond.map((x) => x.toFixed(0)).join(', ')} rows/s); ${i.eventsSent} events sent, ${i.resets} resets`,
  );
  const l = r.latency;
  console.log(
    `committed → delivered, ${l.subscribers} subscribers at ${l.eventsPerSecond.toFixed(0)} events/s (${l.deliveries} deliveries): p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms, max ${l.maxMs.toFixed(1)} ms`,
  );
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
