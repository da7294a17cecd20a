/**
 * `mix`: every body form at once, closed loop. Per cycle: a JSON batch, a MessagePack batch,
 * gzip JSON, gzip MessagePack (100 interactions each), a JSON batch of 10 telemetry reports,
 * one single-event JSON request, one binary-mode request, and a batch of 100 gateway events
 * on /v1/ingest with an API key. The peer does not take MessagePack, binary mode, telemetry
 * or /v1/ingest, so this one runs against the receiver and the HTTP ceiling only.
 */
import { randomBytes } from 'node:crypto';
import { AgentSet } from '../agents.js';
import type { BenchContext } from '../bench-context.js';
import { runLoad } from '../load.js';
import { mixSource } from '../request-bodies.js';
import type { MixScenario } from '../results.js';
import { auditRows } from '../row-audit.js';
import { fmtInt } from '../format.js';

export async function runMixScenario(ctx: BenchContext, connections: number): Promise<MixScenario> {
  const o = ctx.opts;
  const placement = ctx.place(o.pin);
  const agents = new AgentSet(64);
  const gatewaySource = `urn:machpay:gateway:bench-${randomBytes(4).toString('hex')}`;
  const source = mixSource(agents, ctx.apiKey, gatewaySource, 100);
  await ctx.pg.checkpoint();
  const load = await runLoad({
    label: `mix receiver [${placement.mode}] c=${connections}`,
    url: ctx.receiver.url,
    connections,
    durationS: o.mixS,
    source,
    trustResponses: true,
    progress: ctx.progress,
  });
  const audit = ctx.receiver.databaseUrl === null ? null : await auditRows(ctx.receiver.databaseUrl, [load], agents.ids(), gatewaySource);
  const kinds = Object.entries(load.byKind)
    .map(([k, v]) => `${k} ${v.acked}/${v.eventsSent}`)
    .join(', ');
  ctx.say(
    `  mix receiver c=${connections}: ${fmtInt(load.eventsPerS)} ev/s, p99 ${load.latencyMs.p99} ms, errors ${load.errors}; ${audit === null ? '' : audit.ok ? 'rows ok' : `ROWS: ${audit.problems.join('; ')}`}`,
  );
  ctx.detail(`    acked/sent events by kind: ${kinds}`);
  const httpCeiling = await runLoad({
    label: `mix http-ceiling [${placement.mode}] c=${connections}`,
    url: ctx.httpCeiling.url,
    connections,
    durationS: o.ceilingS,
    source,
    trustResponses: false,
    progress: ctx.progress,
  });
  ctx.say(`  mix http-ceiling c=${connections}: ${fmtInt(httpCeiling.eventsPerS)} ev/s, errors ${httpCeiling.errors}`);
  return { placement: placement.mode, connections, receiver: { load, audit }, httpCeiling };
}
