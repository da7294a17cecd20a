/**
 * `max` (batches of 100 interaction events) and `per-packet-signed` (one event per signed
 * request): the highest rate each server sustains with zero errors, found by ramping
 * connections, then held. Receiver, peer and the bare-uWS HTTP ceiling see the same kind of
 * requests from the same load generator; the receiver's RSS is sampled throughout, and the
 * CPU split is measured over each hold.
 */
import { performance } from 'node:perf_hooks';
import { AgentSet } from '../agents.js';
import type { BenchContext } from '../bench-context.js';
import type { PinMode } from '../affinity.js';
import { runLoad } from '../load.js';
import { CpuMeter, RssSampler, topThreads, type CpuSplit } from '../proc-sampler.js';
import { readSpoolCounters, type SpoolCounters } from '../receiver-metrics.js';
import { rampToMax } from '../ramp.js';
import { batchSource, PresignedPool, singleSource, type RequestSource } from '../request-bodies.js';
import type { ServerRun, ThroughputScenario } from '../results.js';
import { auditRows, countInteractions } from '../row-audit.js';
import type { Target } from '../targets.js';
import { fmtInt } from '../format.js';

export type ThroughputKind = 'max' | 'per-packet-signed';

const BATCH = 100;
const AGENTS = 64;
const LEVELS: Record<ThroughputKind, readonly number[]> = {
  // Batches are ~40 KiB: a few connections already keep the receiver's pipeline full.
  max: [2, 4, 8, 16, 32, 64],
  // Single events: the receiver batches across requests, so it needs many in flight.
  'per-packet-signed': [8, 16, 32, 64, 128, 256],
};
/** Most requests signed ahead of the holds (~1 KiB each in memory). */
const MAX_PRESIGNED = 300_000;

export async function runThroughputScenario(ctx: BenchContext, kind: ThroughputKind, mode: PinMode): Promise<ThroughputScenario> {
  const o = ctx.opts;
  const placement = ctx.place(mode);
  const agents = new AgentSet(AGENTS);
  const live: RequestSource = kind === 'max' ? batchSource(agents, BATCH) : singleSource(agents);
  let pool: PresignedPool | null = null;
  let signSeconds = 0;
  const liveBuilt: Record<string, number> = {};
  const cursors: { name: string; liveBuilt: () => number }[] = [];

  /** per-packet-signed holds replay requests signed beforehand, so the load generator's core goes to sending. */
  const holdSource = (name: string, stepRate: number): RequestSource => {
    if (kind === 'max') return live;
    if (pool === null) {
      pool = new PresignedPool(live);
      const n = Math.min(MAX_PRESIGNED, Math.ceil(stepRate * o.holdS * 1.4) + 2000);
      ctx.progress.phase(`${kind} [${mode}]: signing ${fmtInt(n)} requests ahead of the holds`);
      const t = performance.now();
      pool.fill(n);
      signSeconds = (performance.now() - t) / 1000;
    }
    // The bare uWS endpoint stores nothing, so it may replay the pool from the start when it is faster than the receiver.
    const c = pool.cursor(name === 'http-ceiling');
    cursors.push({ name, liveBuilt: c.liveBuilt });
    return c;
  };

  const serverRun = async (target: Target): Promise<ServerRun> => {
    const rss = new RssSampler(target.pid);
    const cpu = new CpuMeter(target.pid, ctx.pg.postmasterPid, ctx.cores);
    let top: Promise<string> = Promise.resolve('');
    // Filled by the hold's hooks (an object, so the compiler sees the writes made in callbacks).
    const at: { storedBefore: number; storedAfter: number; spoolBefore: SpoolCounters | null; spoolAfter: SpoolCounters | null; cpu: CpuSplit | null } = {
      storedBefore: 0,
      storedAfter: 0,
      spoolBefore: null,
      spoolAfter: null,
      cpu: null,
    };
    let topTimer: NodeJS.Timeout | null = null;
    await ctx.pg.checkpoint();
    rss.start();
    const ramp = await rampToMax({
      label: `${kind} ${target.name} [${mode}]`,
      url: target.url,
      levels: LEVELS[kind],
      stepS: o.stepS,
      holdS: o.holdS,
      stepSource: live,
      holdSource: (_level, stepRate) => holdSource(target.name, stepRate),
      trustResponses: true,
      progress: ctx.progress,
      beforeHold: async () => {
        at.storedBefore = target.databaseUrl === null ? 0 : await countInteractions(target.databaseUrl, agents.ids());
        at.spoolBefore = target.name === 'receiver' ? await readSpoolCounters(target.url) : null;
        cpu.start();
        // A `top -H` frame from the middle of the hold, for the report.
        topTimer = setTimeout(() => (top = topThreads([target.pid, process.pid, ctx.pg.postmasterPid])), (o.holdS * 1000) / 2);
      },
      afterHold: async () => {
        at.cpu = cpu.stop();
        if (topTimer !== null) clearTimeout(topTimer);
        at.storedAfter = target.databaseUrl === null ? 0 : await countInteractions(target.databaseUrl, agents.ids());
        at.spoolAfter = target.name === 'receiver' ? await readSpoolCounters(target.url) : null;
      },
    });
    const rssStats = rss.stop();
    for (const s of ramp.steps) {
      ctx.detail(`  ${kind} ${target.name} [${mode}] step c=${s.connections}: ${fmtInt(s.eventsPerS)} ev/s, p99 ${s.p99Ms} ms, errors ${s.errors}`);
    }
    const audit = target.databaseUrl === null ? null : await auditRows(target.databaseUrl, ramp.runs, agents.ids(), null);
    const h = ramp.hold;
    const rows = at.storedAfter - at.storedBefore;
    const storedDuringHold = target.databaseUrl === null ? null : { rows, seconds: h.wallS, perS: Math.round(rows / h.wallS) };
    const spool = at.spoolBefore === null || at.spoolAfter === null ? null : { appendsDuringHold: at.spoolAfter.appendsOk - at.spoolBefore.appendsOk, recordsAfterHold: at.spoolAfter.records };
    const sustainedPerS = storedDuringHold === null ? h.eventsPerS : Math.min(h.eventsPerS, storedDuringHold.perS);
    return { ramp: ramp.steps, level: ramp.level, hold: h, storedDuringHold, spool, sustainedPerS, rss: rssStats, cpu: at.cpu, top: await top, audit };
  };

  const receiver = await serverRun(ctx.receiver);
  report(ctx, kind, mode, 'receiver', receiver);
  let peer: ServerRun | null = null;
  if (ctx.peer !== null) {
    peer = await serverRun(ctx.peer);
    report(ctx, kind, mode, 'peer', peer);
  }
  const httpCeiling = await runLoad({
    label: `${kind} http-ceiling [${mode}] c=${receiver.level}`,
    url: ctx.httpCeiling.url,
    connections: receiver.level,
    durationS: o.ceilingS,
    source: kind === 'max' ? live : holdSource('http-ceiling', receiver.hold.eventsPerS),
    trustResponses: false,
    progress: ctx.progress,
  });
  ctx.say(`  ${kind} http-ceiling [${mode}] c=${receiver.level}: ${fmtInt(httpCeiling.eventsPerS)} ev/s, errors ${httpCeiling.errors}`);
  for (const c of cursors) liveBuilt[c.name] = c.liveBuilt();
  const presigned = pool === null ? null : { requests: (pool as PresignedPool).size, liveBuilt, signSeconds: Math.round(signSeconds * 10) / 10 };
  return { placement: placement.mode, eventsPerRequest: kind === 'max' ? BATCH : 1, receiver, peer, httpCeiling, presigned };
}

function report(ctx: BenchContext, kind: ThroughputKind, mode: PinMode, name: string, r: ServerRun): void {
  const h = r.hold;
  const audit = r.audit === null ? '' : r.audit.ok ? ', rows: all acknowledged events stored once' : `, ROWS: ${r.audit.problems.join('; ')}`;
  const rss = r.rss === null ? '' : `, RSS max ${r.rss.maxMiB} MiB`;
  const stored = r.storedDuringHold === null ? '' : ` (${fmtInt(r.storedDuringHold.perS)}/s into PostgreSQL)`;
  const spool = r.spool === null || r.spool.appendsDuringHold === 0 ? '' : `, ${r.spool.appendsDuringHold} batches acknowledged through the spool`;
  ctx.say(`  ${kind} ${name} [${mode}] c=${r.level}: ${fmtInt(h.eventsPerS)} ev/s acknowledged${stored} held ${h.durationS} s, p99 ${h.latencyMs.p99} ms, errors ${h.errors}${rss}${spool}${audit}`);
  const c = r.cpu;
  if (c !== null) {
    ctx.say(
      `    cores during the hold: load generator ${c.client.toFixed(2)}, ${name} main thread ${c.serverMain.toFixed(2)}, other threads ${c.serverOtherThreads.toFixed(2)}, ` +
        `PostgreSQL ${c.postgres.toFixed(2)}, other sessions ${c.other.toFixed(2)} (machine ${c.machineBusy.toFixed(2)} of ${c.cores}); ` +
        `waiting for a CPU: ${name} main ${c.waiting.serverMain.toFixed(2)}, other threads ${c.waiting.serverOtherThreads.toFixed(2)}, PostgreSQL ${c.waiting.postgres.toFixed(2)}`,
    );
  }
}
