/**
 * `max` (batches of 100 interaction events) and `per-packet-signed` (one event per signed
 * request): the highest rate each server sustains with zero errors. Each server is ramped to
 * its best connection count, then the receiver and the peer are held there in turn, `repeats`
 * times (receiver, peer, receiver, peer, …), so that load from other sessions on the machine
 * falls on both alike; the median hold is the figure. The bare-uWS HTTP ceiling sees requests
 * of the same kind from the same load generator at the receiver's level. The receiver's RSS is
 * sampled whenever it is under load.
 */
import { AgentSet } from '../agents.js';
import type { BenchContext } from '../bench-context.js';
import type { PinMode } from '../affinity.js';
import { fmtInt } from '../format.js';
import { holdAt, type HoldRun } from '../hold.js';
import { runLoad, type LoadResult } from '../load.js';
import { RssSampler } from '../proc-sampler.js';
import { lowerLevel, rampUp, type RampResult } from '../ramp.js';
import { Presigner, sumPresignStats, type PresignStats } from '../presign.js';
import { batchSource, singleSource, type RequestSource } from '../request-bodies.js';
import type { ServerRun, ThroughputScenario } from '../results.js';
import { auditRows } from '../row-audit.js';
import type { Target } from '../targets.js';

export type ThroughputKind = 'max' | 'per-packet-signed';

const BATCH = 100;
const AGENTS = 64;
const LEVELS: Record<ThroughputKind, readonly number[]> = {
  // Batches are ~40 KiB: a few connections already keep the receiver's pipeline full.
  max: [2, 4, 8, 16, 32, 64],
  // Single events: the receiver batches across requests, so it needs many in flight: enough
  // that the worker verifies one half while the other half waits for its COPY to commit.
  'per-packet-signed': [8, 16, 32, 64, 128, 256, 512, 1024],
};
/**
 * Steps always run up to this many connections: the receiver's rate can stay flat at low
 * concurrency and then grow again, once enough rows wait for a second COPY to run beside the
 * first (PARALLEL_COPY_ROWS), or, for single events, once enough requests wait to fill a
 * worker task; stopping at the first plateau would miss that (per-packet-signed can read
 * about 5.5k/s from 32 to 128 connections and about 10k/s at 512 and 1024).
 */
const MIN_STOP_LEVEL: Record<ThroughputKind, number> = { max: 32, 'per-packet-signed': 512 };
/** Most requests signed for one run: ~60 KiB each batch of 100, ~1 KiB each single event. */
const PRESIGN_LIMIT: Record<ThroughputKind, number> = { max: 40_000, 'per-packet-signed': 400_000 };
/** A ramp step is signed for twice the fastest rate so far: the next level may go well past it. */
const RAMP_MARGIN = 2;
/** The rate a first ramp step is signed for; past its pool, requests are built live. */
const FIRST_STEP_EVENTS_PER_S: Record<ThroughputKind, number> = { max: 20_000, 'per-packet-signed': 2_000 };

interface ServerState {
  target: Target;
  ramp: RampResult;
  runoff: { connections: number; eventsPerS: number }[];
  level: number;
  holds: HoldRun[];
  runs: LoadResult[];
  rss: RssSampler;
}

export async function runThroughputScenario(ctx: BenchContext, kind: ThroughputKind, mode: PinMode): Promise<ThroughputScenario> {
  const o = ctx.opts;
  const placement = ctx.place(mode);
  const agents = new AgentSet(AGENTS);
  const live: RequestSource = kind === 'max' ? batchSource(agents, BATCH) : singleSource(agents);
  const perRequest = kind === 'max' ? BATCH : 1;
  const levels = LEVELS[kind];
  // Every run replays requests signed just before it (presign.ts). Each server's ramp starts
  // from the same assumed rate, so neither is favoured by the order they run in.
  const signed: PresignStats[] = [];

  // Ramps: each server finds its own best level.
  const servers: ServerState[] = [];
  for (const target of [ctx.receiver, ...(ctx.peer === null ? [] : [ctx.peer])]) {
    await ctx.pg.checkpoint();
    const rss = new RssSampler(target.pid);
    rss.start();
    const presigner = new Presigner(live, perRequest, FIRST_STEP_EVENTS_PER_S[kind], PRESIGN_LIMIT[kind], RAMP_MARGIN);
    const ramp = await rampUp({ label: `${kind} ${target.name} [${mode}]`, url: target.url, levels, minStopLevel: MIN_STOP_LEVEL[kind], stepS: o.stepS, source: (s) => presigner.run(target.name, s), trustResponses: true, progress: ctx.progress });
    rss.stop();
    for (const s of ramp.steps) ctx.detail(`  ${kind} ${target.name} [${mode}] step c=${s.connections}: ${fmtInt(s.eventsPerS)} ev/s, p99 ${s.p99Ms} ms, errors ${s.errors}`);
    const runs = [...ramp.runs];
    const runoff: { connections: number; eventsPerS: number }[] = [];
    let level = ramp.level;
    if (ramp.close.length > 1) {
      // Steps are short: levels within the noise of the best get a longer run each, and the
      // faster one is held (the same for every server).
      rss.start();
      let best = -1;
      for (const c of ramp.close) {
        const source = presigner.run(target.name, 2 * o.stepS);
        const r = await runLoad({ label: `${kind} ${target.name} [${mode}] runoff c=${c}`, url: target.url, connections: c, durationS: 2 * o.stepS, source, trustResponses: true, progress: ctx.progress });
        source.done(r);
        runs.push(r);
        runoff.push({ connections: c, eventsPerS: r.eventsPerS });
        ctx.detail(`  ${kind} ${target.name} [${mode}] runoff c=${c}: ${fmtInt(r.eventsPerS)} ev/s, errors ${r.errors}`);
        if (r.errors === 0 && r.eventsPerS > best) {
          best = r.eventsPerS;
          level = c;
        }
      }
      rss.stop();
    }
    signed.push(presigner.stats());
    servers.push({ target, ramp, runoff, level, holds: [], runs, rss });
  }

  // One pool per round of holds, sized for the fastest server and replayed to each.
  const holds = new Presigner(live, perRequest, Math.max(...servers.map((s) => s.ramp.rate)), PRESIGN_LIMIT[kind]);

  // Holds, alternating between the servers.
  for (let round = 0; round < o.repeats; round++) {
    ctx.progress.phase(`${kind} [${mode}]: signing the requests of round ${round + 1}/${o.repeats}`);
    const pool = holds.pool(o.holdS);
    for (const s of servers) {
      s.rss.start();
      const source = holds.replay(pool, s.target.name);
      let h = await holdAt(ctx, s.target, {
        label: `${kind} ${s.target.name} [${mode}] hold ${round + 1}/${o.repeats} c=${s.level}`,
        connections: s.level,
        durationS: o.holdS,
        source,
        agentIds: agents.ids(),
        top: round === 0 && s.target.name === 'receiver',
      });
      const lower = lowerLevel(levels, s.level);
      if (round === 0 && h.load.errors > 0 && lower !== null) {
        // Errors at the ramp's best level: hold the next lower one instead, from here on (the
        // same cursor goes on: this server has stored the requests already sent).
        s.runs.push(h.load);
        s.level = lower;
        h = await holdAt(ctx, s.target, { label: `${kind} ${s.target.name} [${mode}] hold 1/${o.repeats} c=${s.level}`, connections: s.level, durationS: o.holdS, source, agentIds: agents.ids(), top: s.target.name === 'receiver' });
      }
      source.done(h.load);
      s.rss.stop();
      s.holds.push(h);
      s.runs.push(h.load);
      ctx.detail(`  ${kind} ${s.target.name} [${mode}] hold ${round + 1}/${o.repeats} c=${s.level}: ${fmtInt(h.sustainedPerS)} ev/s sustained, errors ${h.load.errors}`);
    }
  }

  const results: ServerRun[] = [];
  for (const s of servers) {
    const audit = s.target.databaseUrl === null ? null : await auditRows(s.target.databaseUrl, s.runs, agents.ids(), null);
    const run = summarize(s, audit);
    report(ctx, kind, mode, s.target.name, run);
    results.push(run);
  }
  const receiver = results[0] as ServerRun;
  const peer = results[1] ?? null;

  // The bare uWS endpoint stores nothing: it replays a small pool from the start, over and over.
  const ceilingSource = holds.replay(holds.pool(2), 'http-ceiling', true);
  const httpCeiling = await runLoad({
    label: `${kind} http-ceiling [${mode}] c=${receiver.level}`,
    url: ctx.httpCeiling.url,
    connections: receiver.level,
    durationS: o.ceilingS,
    source: ceilingSource,
    trustResponses: false,
    progress: ctx.progress,
  });
  ceilingSource.done(httpCeiling);
  ctx.say(`  ${kind} http-ceiling [${mode}] c=${receiver.level}: ${fmtInt(httpCeiling.eventsPerS)} ev/s, errors ${httpCeiling.errors}`);
  const presigned = sumPresignStats([...signed, holds.stats()]);
  return { placement: placement.mode, eventsPerRequest: perRequest, receiver, peer, httpCeiling, presigned, presignedRuns: 'all' };
}

/** The median hold (lower middle for an even count: the conservative one) stands for the server. */
function summarize(s: ServerState, audit: ServerRun['audit']): ServerRun {
  const sorted = [...s.holds].sort((a, b) => a.sustainedPerS - b.sustainedPerS);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as HoldRun;
  const rss = s.rss.stats();
  return {
    ramp: s.ramp.steps,
    runoff: s.runoff,
    level: s.level,
    holds: s.holds.map((h) => ({
      connections: h.load.connections,
      eventsPerS: h.load.eventsPerS,
      storedPerS: h.storedDuringHold?.perS ?? null,
      sustainedPerS: h.sustainedPerS,
      errors: h.load.errors,
      p99Ms: h.load.latencyMs.p99,
      spoolAppends: h.spool?.appendsDuringHold ?? null,
      cpu: h.cpu,
    })),
    hold: mid.load,
    storedDuringHold: mid.storedDuringHold,
    spool: mid.spool,
    sustainedPerS: mid.sustainedPerS,
    rss,
    cpu: mid.cpu,
    top: s.holds.find((h) => h.top !== '')?.top ?? '',
    audit,
  };
}

function report(ctx: BenchContext, kind: ThroughputKind, mode: PinMode, name: string, r: ServerRun): void {
  const h = r.hold;
  const audit = r.audit === null ? '' : r.audit.ok ? ', rows: all acknowledged events stored once' : `, ROWS: ${r.audit.problems.join('; ')}`;
  const rss = r.rss === null ? '' : `, RSS max ${r.rss.maxMiB} MiB`;
  const spool = r.spool === null || r.spool.appendsDuringHold === 0 ? '' : `, ${r.spool.appendsDuringHold} batches acknowledged through the spool`;
  const holds = r.holds.length > 1 ? ` (holds: ${r.holds.map((x) => fmtInt(x.sustainedPerS)).join(', ')})` : '';
  const errors = r.holds.reduce((a, x) => a + x.errors, 0);
  ctx.say(`  ${kind} ${name} [${mode}] c=${r.level}: ${fmtInt(r.sustainedPerS)} ev/s sustained, median of ${r.holds.length} × ${h.durationS} s${holds}, p99 ${h.latencyMs.p99} ms, errors ${errors}${rss}${spool}${audit}`);
  const c = r.cpu;
  if (c !== null) {
    ctx.say(
      `    cores during the median hold: load generator ${c.client.toFixed(2)}, ${name} main thread ${c.serverMain.toFixed(2)}, other threads ${c.serverOtherThreads.toFixed(2)}, ` +
        `PostgreSQL ${c.postgres.toFixed(2)}, other sessions ${c.other.toFixed(2)} (machine ${c.machineBusy.toFixed(2)} of ${c.cores}); ` +
        `waiting for a CPU: ${name} main ${c.waiting.serverMain.toFixed(2)}, other threads ${c.waiting.serverOtherThreads.toFixed(2)}, PostgreSQL ${c.waiting.postgres.toFixed(2)}`,
    );
  }
}
