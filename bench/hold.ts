/**
 * One hold: a closed-loop run at a fixed connection count, with what it cost around it: rows
 * that reached PostgreSQL during it (counted in the database), batches the receiver
 * acknowledged through its spool (its /metrics), the CPU split and a `top -H` frame.
 */
import type { BenchContext } from './bench-context.js';
import { runLoad, type LoadResult } from './load.js';
import { CpuMeter, topThreads, type CpuSplit } from './proc-sampler.js';
import { readSpoolCounters } from './receiver-metrics.js';
import type { RequestSource } from './request-bodies.js';
import { countInteractions } from './row-audit.js';
import type { Target } from './targets.js';

export interface HoldRun {
  load: LoadResult;
  /** Rows of the scenario's agents that reached PostgreSQL during the hold. */
  storedDuringHold: { rows: number; seconds: number; perS: number } | null;
  /** Batches acknowledged through the receiver's local spool during the hold, and still spooled after it. */
  spool: { appendsDuringHold: number; recordsAfterHold: number } | null;
  /** Acknowledged per second, but no more than reached PostgreSQL per second. */
  sustainedPerS: number;
  cpu: CpuSplit;
  top: string;
}

export async function holdAt(ctx: BenchContext, target: Target, opts: { label: string; connections: number; durationS: number; source: RequestSource; agentIds: readonly string[]; top: boolean }): Promise<HoldRun> {
  // The checkpoint owed for earlier writes (the other server's hold) must not land in this one.
  await ctx.pg.checkpoint();
  const db = target.databaseUrl;
  const storedBefore = db === null ? 0 : await countInteractions(db, opts.agentIds);
  const spoolBefore = target.name === 'receiver' ? await readSpoolCounters(target.url) : null;
  const cpu = new CpuMeter(target.pid, ctx.pg.postmasterPid, ctx.cores);
  let top: Promise<string> = Promise.resolve('');
  const topTimer = opts.top ? setTimeout(() => (top = topThreads([target.pid, process.pid, ctx.pg.postmasterPid])), (opts.durationS * 1000) / 2) : null;
  cpu.start();
  const load = await runLoad({
    label: opts.label,
    url: target.url,
    connections: opts.connections,
    durationS: opts.durationS,
    source: opts.source,
    trustResponses: true,
    progress: ctx.progress,
  });
  const split = cpu.stop();
  if (topTimer !== null) clearTimeout(topTimer);
  const storedAfter = db === null ? 0 : await countInteractions(db, opts.agentIds);
  const spoolAfter = target.name === 'receiver' ? await readSpoolCounters(target.url) : null;
  const rows = storedAfter - storedBefore;
  const storedDuringHold = db === null ? null : { rows, seconds: load.wallS, perS: Math.round(rows / load.wallS) };
  return {
    load,
    storedDuringHold,
    spool: spoolBefore === null || spoolAfter === null ? null : { appendsDuringHold: spoolAfter.appendsOk - spoolBefore.appendsOk, recordsAfterHold: spoolAfter.records },
    sustainedPerS: storedDuringHold === null ? load.eventsPerS : Math.min(load.eventsPerS, storedDuringHold.perS),
    cpu: split,
    top: await top,
  };
}
