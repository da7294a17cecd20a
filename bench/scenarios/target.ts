/**
 * `target`: 1000 packets/s (by default) offered as single-event signed requests on an even
 * schedule (open loop), for `--duration` seconds. Ack latency from each request's scheduled
 * send time; visibility from each sampled 202 to its row answering a SELECT on another
 * connection. The bare uWS endpoint under the same schedule gives the latency floor of the
 * HTTP path and the load generator; the probe's own query round trip is the visibility floor;
 * one-row commits on the same PostgreSQL during each run are the floor of a durable ack.
 */
import type { PinMode } from '../affinity.js';
import { AgentSet } from '../agents.js';
import type { BenchContext } from '../bench-context.js';
import { CommitProbe } from '../commit-probe.js';
import { runLoad } from '../load.js';
import { singleSource } from '../request-bodies.js';
import type { TargetRun, TargetScenario } from '../results.js';
import { auditRows } from '../row-audit.js';
import type { Target } from '../targets.js';
import { VisibilityProbe } from '../visibility-probe.js';
import { fmtInt } from '../format.js';

/**
 * Enough connections that the schedule never waits for a free one while the server answers
 * within ~100 ms (1000/s × 0.1 s = 100 in flight): otherwise the figure would measure this
 * connection pool, not the server. Many agents, each with its own keep-alive connection.
 */
const CONNECTIONS = 128;
/** One 202 in this many is followed by a visibility probe (100 probes/s at 1000 packets/s). */
const PROBE_EVERY = 10;
/** One-row commits per second beside the load: the durability floor, at a small share of the commits the server makes. */
const COMMITS_PER_S = 20;

export async function runTargetScenario(ctx: BenchContext, mode: PinMode): Promise<TargetScenario> {
  const o = ctx.opts;
  const placement = ctx.place(mode);
  const agents = new AgentSet(64);
  const source = singleSource(agents);

  const run = async (target: Target, durationS: number): Promise<TargetRun> => {
    await ctx.pg.checkpoint();
    const probe = target.databaseUrl === null ? null : new VisibilityProbe(target.databaseUrl, PROBE_EVERY);
    const commits = target.databaseUrl === null ? null : await CommitProbe.start(ctx.pg.urlFor('postgres'), COMMITS_PER_S);
    const load = await runLoad({
      label: `target ${target.name} [${placement.mode}] ${o.targetRate}/s`,
      url: target.url,
      connections: CONNECTIONS,
      durationS,
      ratePerS: o.targetRate,
      source,
      trustResponses: target.databaseUrl !== null,
      ...(probe === null ? {} : { onAck: probe.onAck }),
      progress: ctx.progress,
    });
    const commitFloor = commits === null ? null : await commits.finish();
    const visibility = probe === null ? null : await probe.finish();
    const audit = target.databaseUrl === null ? null : await auditRows(target.databaseUrl, [load], agents.ids(), null);
    const vis = visibility === null ? '' : `, visible p99 ${visibility.visibilityMs.p99} ms (${visibility.visibleOnFirstPoll}/${visibility.sampled} on first poll, ${visibility.missing} missing)`;
    const rows = audit === null ? '' : audit.ok ? ', rows ok' : `, ROWS: ${audit.problems.join('; ')}`;
    const floor = commitFloor === null ? '' : `, PostgreSQL one-row commit p99 ${commitFloor.latencyMs.p99} ms (floor${commitFloor.failures > 0 ? `; ${commitFloor.failures} commits FAILED` : ''})`;
    const late = load.sendLatenessMs === null || load.sendLatenessMs.p99 < 5 ? '' : `; sends late against the schedule: p99 ${load.sendLatenessMs.p99} ms`;
    ctx.say(
      `  target ${target.name} [${placement.mode}]: ${fmtInt(load.eventsPerS)} ev/s, ack p50 ${load.latencyMs.p50} / p99 ${load.latencyMs.p99} / p99.9 ${load.latencyMs.p999} ms, errors ${load.errors}${floor}${vis}${rows}${late}`,
    );
    return { load, visibility, audit, commitFloor };
  };

  const receiver = await run(ctx.receiver, o.durationS);
  const peer = ctx.peer === null ? null : await run(ctx.peer, o.durationS);
  const httpCeiling = await run(ctx.httpCeiling, Math.min(o.durationS, 20));
  return { placement: placement.mode, ratePerS: o.targetRate, connections: CONNECTIONS, receiver, peer, httpCeiling };
}
