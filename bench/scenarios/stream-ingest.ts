/**
 * The `stream` scenario's ingest figure (issue goal: ingest's maximum with 1000 open
 * subscribers within 10 % of its maximum with none): the receiver's real ingest, signed
 * batches of 100 interaction events over HTTP into a running receiver, as `max` measures it,
 * held alternately with no subscriber anywhere (capture off) and with `subscribers` open
 * streams on the same receiver.
 *
 * The receiver is one of its own (its own database and DATA_DIR, the run's receiver settings)
 * with a resume window of 1 s, so that capture goes off again soon after the subscribers
 * leave and every hold without them is the idle state. Each subscriber is `agent:*` of a
 * tenant of its own with one of the load's agents, so every stored event is sent to exactly
 * one subscriber. The subscribers read in a child process (stream-subscribers.ts) whose CPU
 * is reported apart.
 *
 * Between the two, the same number of subscribers is held open on tenants that have no agent:
 * capture is on and the log is read back, but no event is theirs. What that costs ingest is
 * the stream's price before any delivery (capture, reading the log, filtering it), so its
 * ratio bounds what any way of delivering can reach in this design.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createApiKey } from '../../src/api-keys/index.js';
import { withClient } from '../../src/database/index.js';
import { EVENTS_PATH } from '../../src/stream/index.js';
import { setAffinity } from '../affinity.js';
import { AgentSet } from '../agents.js';
import type { BenchContext } from '../bench-context.js';
import { fmtInt } from '../format.js';
import { holdAt } from '../hold.js';
import { cpuTicks, type CpuSplit } from '../proc-sampler.js';
import { Presigner } from '../presign.js';
import { rampUp, type StepSummary } from '../ramp.js';
import { readSample } from '../receiver-metrics.js';
import { batchSource } from '../request-bodies.js';
import { migrate, startReceiver, type Target } from '../targets.js';
import { startSubscribers, type Subscribers } from './stream-subscribers.js';

export interface StreamIngestOptions {
  subscribers: number;
  /** Rounds of (hold without subscribers, hold with them). */
  rounds: number;
  holdS: number;
  stepS: number;
  /**
   * Connections to hold at; null: ramp without subscribers and take its best level. Each
   * condition is held at that level and at twice it, and its maximum is the better of the two:
   * subscribers lengthen each batch's round trip, so the best level with them can be higher.
   */
  connections: number | null;
  /** Extra environment of the receiver (e.g. NODE_OPTIONS=--cpu-prof to profile it). */
  receiverEnv?: Record<string, string>;
}

export interface StreamIngestHold {
  subscribers: number;
  /** Whether the subscribers watch the load's agents (every event delivered) or tenants without agents (none). */
  watching: 'stored' | 'nothing';
  connections: number;
  /** Events acknowledged per second, but no more than reached PostgreSQL per second. */
  eventsPerS: number;
  errors: number;
  /** Cores of the receiver, PostgreSQL, the load generator and other sessions during the hold. */
  cpu: CpuSplit;
  /** Cores of the subscribers' process during the hold (0 without subscribers). */
  subscriberCores: number;
  /** Events stored during the hold, and how many the subscribers had read once the stream caught up (or gave up waiting). */
  stored: number;
  read: number;
  resets: number;
  /** Seconds after the hold until the subscribers had read every stored event (null: not within the wait). */
  catchUpS: number | null;
  /** Reads of the stream log per second during the hold. */
  logReadsPerS: number;
  /** CPU of the receiver (all threads) and PostgreSQL per event stored, in µs: what an event costs the servers. */
  serverMicrosPerEvent: number;
}

export interface StreamIngestResult {
  subscribers: number;
  agents: number;
  eventsPerRequest: number;
  connections: number;
  ramp: StepSummary[];
  holds: StreamIngestHold[];
  /** Median over rounds of (best hold with subscribers ÷ best hold without). */
  ratio: number;
  /** The same with the subscribers watching tenants without agents: capture and reading, no delivery. */
  quietRatio: number;
  /**
   * Median serverMicrosPerEvent of the holds of each condition. Unlike the ratios, which move
   * with how fast ingest alone runs on the machine that day, these say what the stream adds.
   */
  serverMicrosPerEvent: { none: number; nothing: number; stored: number };
  loadAvg: { start: number[]; end: number[] };
}

const BATCH = 100;
const LEVELS = [2, 4, 8, 16, 32];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

/** The three figures of serverMicrosPerEvent, for the run's summary line. */
export function microsText(m: StreamIngestResult['serverMicrosPerEvent']): string {
  return `${m.none.toFixed(0)} µs with nobody subscribed, ${m.nothing.toFixed(0)} µs watching nothing stored, ${m.stored.toFixed(0)} µs delivered`;
}

function microsPerEvent(holds: readonly StreamIngestHold[], which: (h: StreamIngestHold) => boolean): number {
  const xs = holds.filter((h) => which(h) && h.eventsPerS > 0).map((h) => h.serverMicrosPerEvent);
  return xs.length === 0 ? 0 : median(xs);
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

export async function runStreamIngest(ctx: BenchContext, o: StreamIngestOptions): Promise<StreamIngestResult> {
  const loadStart = loadavg();
  const dbName = 'stream_ingest';
  await ctx.pg.createDatabase(dbName);
  const url = ctx.pg.urlFor(dbName);
  await migrate(ctx.reg, ctx.paths, url);
  const agents = new AgentSet(o.subscribers);
  const keys: string[] = [];
  const quietKeys: string[] = [];
  await withClient(url, async (c) => {
    for (let t = 0; t < o.subscribers; t++) {
      keys.push((await createApiKey(c, { tenantId: `t${t}`, name: 'stream bench', test: true, scopes: ['read'] })).key);
      quietKeys.push((await createApiKey(c, { tenantId: `quiet${t}`, name: 'stream bench, no agent', test: true, scopes: ['read'] })).key);
    }
    const ids = agents.ids();
    await c.query(
      'INSERT INTO agents (pubkey, tenant_id, linked_at, first_seen_at, last_seen_at) SELECT a, t, now(), now(), now() FROM unnest($1::text[], $2::text[]) AS x(a, t)',
      [ids, ids.map((_, i) => `t${i}`)],
    );
  });
  const captureState = (): Promise<string> =>
    withClient(url, async (c) => (await c.query<{ state: string }>('SELECT state FROM stream_capture')).rows[0]?.state ?? '');

  const dataDir = mkdtempSync(join(tmpdir(), 'machpay-bench-stream-'));
  let receiver: Target | null = null;
  try {
    receiver = await startReceiver(ctx.reg, ctx.paths, url, dataDir, { ...ctx.opts.receiverEnv, STREAM_RESUME_WINDOW_MS: '1000', ...o.receiverEnv });
    setAffinity(receiver.pid, ctx.place(ctx.opts.pin).server);
    const target = receiver;
    const port = Number(new URL(target.url).port);
    const live = batchSource(agents, BATCH);

    let ramp: StepSummary[] = [];
    let connections = o.connections;
    let rate = 20_000;
    if (connections === null) {
      const presigner = new Presigner(live, BATCH, rate, 40_000, 2);
      const r = await rampUp({
        label: 'stream ingest ramp',
        url: target.url,
        levels: LEVELS,
        minStopLevel: 16,
        stepS: o.stepS,
        source: (s) => presigner.run('stream', s),
        trustResponses: true,
        progress: ctx.progress,
      });
      ramp = r.steps;
      connections = r.level;
      rate = r.rate;
      for (const s of r.steps) ctx.detail(`  stream ingest ramp c=${s.connections}: ${fmtInt(s.eventsPerS)} ev/s, errors ${s.errors}`);
    }
    const c = connections;
    const holds = new Presigner(live, BATCH, rate, 40_000);
    const results: StreamIngestHold[] = [];
    const hold = async (subs: Subscribers | null, watching: StreamIngestHold['watching'], c: number): Promise<StreamIngestHold> => {
      const n = subs === null ? 0 : o.subscribers;
      const read0 = subs?.events() ?? 0;
      const resets0 = subs?.resets() ?? 0;
      const subTicks0 = subs === null ? 0 : (cpuTicks(`/proc/${subs.pid}/stat`) ?? 0);
      const logReads = (): Promise<number> => readSample(target.url, 'machpay_stream_log_reads_total').then((v) => v ?? 0);
      const reads0 = await logReads();
      // Signed before the hold, for this hold only: a replay would be a duplicate.
      const source = holds.run('stream', o.holdS);
      const h = await holdAt(ctx, target, {
        label: `stream ingest c=${c}, ${n} subscribers`,
        connections: c,
        durationS: o.holdS,
        source,
        agentIds: agents.ids(),
        top: false,
      });
      source.done(h.load);
      const subscriberCores = subs === null ? 0 : ((cpuTicks(`/proc/${subs.pid}/stat`) ?? 0) - subTicks0) / 100 / h.load.wallS;
      const logReadsPerS = ((await logReads()) - reads0) / h.load.wallS;
      const stored = h.storedDuringHold?.rows ?? 0;
      let catchUpS: number | null = null;
      if (subs !== null && watching === 'stored') {
        const t0 = performance.now();
        if (await waitFor(() => subs.events() - read0 >= stored, 60_000)) catchUpS = (performance.now() - t0) / 1000;
      }
      const result: StreamIngestHold = {
        subscribers: n,
        watching,
        connections: c,
        eventsPerS: h.sustainedPerS,
        errors: h.load.errors,
        cpu: h.cpu,
        subscriberCores,
        stored,
        read: (subs?.events() ?? 0) - read0,
        resets: (subs?.resets() ?? 0) - resets0,
        catchUpS,
        logReadsPerS,
        serverMicrosPerEvent: h.sustainedPerS > 0 ? ((h.cpu.serverMain + h.cpu.serverOtherThreads + h.cpu.postgres) / h.sustainedPerS) * 1e6 : 0,
      };
      results.push(result);
      const x = h.cpu;
      const who = subs === null ? '' : watching === 'stored' ? ' (watching every stored event)' : ' (watching nothing stored)';
      ctx.say(
        `  ingest with ${n} subscribers${who} c=${c}: ${fmtInt(h.sustainedPerS)} ev/s, errors ${h.load.errors}; cores: receiver main ${x.serverMain.toFixed(2)}, other threads ${x.serverOtherThreads.toFixed(2)}, ` +
          `PostgreSQL ${x.postgres.toFixed(2)}, load generator ${x.client.toFixed(2)}, subscribers ${subscriberCores.toFixed(2)}, other ${x.other.toFixed(2)}; ` +
          `receiver and PostgreSQL ${result.serverMicrosPerEvent.toFixed(0)} µs per event` +
          (subs === null ? '' : `; ${fmtInt(logReadsPerS)} log reads/s; ${fmtInt(stored)} stored, ${fmtInt(result.read)} read`) +
          (watching === 'stored' && subs !== null ? (catchUpS === null ? ' (not caught up in 60 s)' : ` (caught up ${catchUpS.toFixed(1)} s after)`) : ''),
      );
      return result;
    };
    const best = async (subs: Subscribers | null, watching: StreamIngestHold['watching']): Promise<number> =>
      Math.max((await hold(subs, watching, c)).eventsPerS, (await hold(subs, watching, 2 * c)).eventsPerS);
    /** Best hold with `streamKeys`' subscribers open ÷ `idle`. */
    const withSubscribers = async (streamKeys: readonly string[], watching: StreamIngestHold['watching'], idle: number): Promise<number> => {
      const subs = startSubscribers(
        port,
        streamKeys.map((key) => ({ path: `${EVENTS_PATH}?topic=agent:*`, key })),
        false,
      );
      try {
        if (!(await waitFor(() => subs.opened() >= o.subscribers, 120_000))) throw new Error('stream ingest: subscribers did not open');
        return (await best(subs, watching)) / idle;
      } finally {
        await subs.stop();
      }
    };
    const ratios: number[] = [];
    const quietRatios: number[] = [];

    for (let round = 0; round < o.rounds; round++) {
      if (!(await waitFor(async () => (await captureState()) === 'off', 60_000))) throw new Error('stream ingest: capture did not go off');
      const idle = await best(null, 'nothing');
      quietRatios.push(await withSubscribers(quietKeys, 'nothing', idle));
      ratios.push(await withSubscribers(keys, 'stored', idle));
    }
    return {
      subscribers: o.subscribers,
      agents: o.subscribers,
      eventsPerRequest: BATCH,
      connections: c,
      ramp,
      holds: results,
      ratio: median(ratios),
      quietRatio: median(quietRatios),
      serverMicrosPerEvent: {
        none: microsPerEvent(results, (h) => h.subscribers === 0),
        nothing: microsPerEvent(results, (h) => h.subscribers > 0 && h.watching === 'nothing'),
        stored: microsPerEvent(results, (h) => h.subscribers > 0 && h.watching === 'stored'),
      },
      loadAvg: { start: loadStart, end: loadavg() },
    };
  } finally {
    await receiver?.proc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
