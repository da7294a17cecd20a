/**
 * Remote mode (`npm run bench -- --url https://host:port`): the benchmark's load generator
 * against a deployment that is not on this machine, like OpenTelemetry's telemetrygen. Nothing
 * is started here and nothing is read from the deployment's database: the figures are what a
 * client sees (acknowledged events per second, answers by status, ack latency, errors), and
 * the report names what it cannot see.
 */
import { writeFileSync } from 'node:fs';
import { AgentSet } from './agents.js';
import { readAgentKeys } from './key-file.js';
import { runLoad, type LoadResult } from './load.js';
import type { RemoteOptions } from './options.js';
import { Progress } from './progress.js';
import { batchSource, gatewaySource, singleSource, type RequestSource } from './request-bodies.js';

/** What a client cannot measure; printed with every remote result so nobody reads it into the figures. */
export const NOT_MEASURED_REMOTELY = [
  "server CPU and memory (the receiver's and PostgreSQL's): read the deployment's /metrics or host monitoring",
  'rows stored: an acknowledged event is durable (committed, or fsynced in the spool and committed later), but only the database can count rows; compare with `accepted` below',
  'the ceilings (COPY, signature verify, bare HTTP) of the deployment: run `npm run bench` on a host like it',
  'whether the load generator or the network is the limit: see client CPU (near 1.0 = one core busy: run more load generators) and compare with the deployment\'s own request rate',
] as const;

export interface RemoteResult {
  url: string;
  startedAt: string;
  mode: 'agent-batch' | 'agent-single' | 'gateway-batch';
  agents: number;
  /** base58 agent ids of this run (empty in gateway mode): their rows can be counted later. */
  agentIds: string[];
  /** ce-source of this run's gateway events (null in agent mode): their rows can be counted later. */
  gatewaySource: string | null;
  batchSize: number;
  connections: number;
  durationS: number;
  offeredRequestsPerS: number | null;
  acceptedEvents: number;
  acceptedPerS: number;
  requestsPerS: number;
  byStatus: Record<string, number>;
  ackLatencyMs: { p50: number; p99: number; max: number };
  errors: number;
  errorSamples: string[];
  timeouts: number;
  socketErrors: number;
  unanswered: number;
  /** Share of one core the load generator used: near 1 means it, not the deployment, may be the limit. */
  clientCpu: number;
  notMeasured: readonly string[];
}

function sourceFor(opts: RemoteOptions, agents: AgentSet | null, runTag: string): RequestSource {
  if (opts.apiKey !== null) return gatewaySource(opts.apiKey, `urn:machpay:bench:remote:${runTag}`, opts.batchSize);
  const set = agents as AgentSet;
  return opts.batchSize === 1 ? singleSource(set) : batchSource(set, opts.batchSize);
}

export async function runRemote(opts: RemoteOptions): Promise<RemoteResult> {
  const started = new Date();
  const runTag = started.toISOString().replace(/[-:.]/g, '');
  let agents: AgentSet | null = null;
  if (opts.apiKey === null) {
    agents = new AgentSet(opts.keyFile === null ? opts.agents : readAgentKeys(opts.keyFile));
    // Nonces start at this run's start time in microseconds: a key file's agents are used again
    // in later runs, and a repeated (agent_id, nonce) would be deduplicated, not stored.
    const base = started.getTime() * 1000;
    for (const a of agents.agents) a.nonce = base;
  }
  const load: LoadResult = await runLoad({
    label: `remote ${opts.url}`,
    url: opts.url,
    connections: opts.connections,
    durationS: opts.durationS,
    ...(opts.ratePerS === null ? {} : { ratePerS: opts.ratePerS }),
    source: sourceFor(opts, agents, runTag),
    trustResponses: true,
    progress: new Progress(),
  });
  return {
    url: opts.url,
    startedAt: started.toISOString(),
    mode: opts.apiKey !== null ? 'gateway-batch' : opts.batchSize === 1 ? 'agent-single' : 'agent-batch',
    agents: agents?.agents.length ?? 0,
    agentIds: agents?.ids() ?? [],
    gatewaySource: opts.apiKey === null ? null : `urn:machpay:bench:remote:${runTag}`,
    batchSize: opts.batchSize,
    connections: opts.connections,
    durationS: opts.durationS,
    offeredRequestsPerS: opts.ratePerS,
    acceptedEvents: load.events.acked,
    acceptedPerS: load.eventsPerS,
    requestsPerS: load.requestsPerS,
    byStatus: load.requests.byStatus,
    ackLatencyMs: { p50: load.latencyMs.p50, p99: load.latencyMs.p99, max: load.latencyMs.max },
    errors: load.errors,
    errorSamples: load.errorSamples,
    timeouts: load.requests.timeouts,
    socketErrors: load.requests.socketErrors,
    unanswered: load.requests.unanswered,
    clientCpu: load.clientCpu,
    notMeasured: NOT_MEASURED_REMOTELY,
  };
}

export function printRemote(r: RemoteResult): void {
  const statuses = Object.entries(r.byStatus).map(([code, n]) => `${code}: ${n}`).join(', ') || 'none';
  const lines = [
    `remote ${r.url}: ${r.mode}, ${r.batchSize} event(s) per request, ${r.connections} connections, ${r.durationS} s${r.offeredRequestsPerS === null ? ' closed loop' : `, ${r.offeredRequestsPerS} requests/s offered`}${r.agents > 0 ? `, ${r.agents} agents` : ''}`,
    `  accepted       ${r.acceptedEvents} events (${r.acceptedPerS}/s in the window; ${r.requestsPerS} requests/s answered 202)`,
    `  status codes   ${statuses}`,
    `  ack latency    p50 ${r.ackLatencyMs.p50} ms, p99 ${r.ackLatencyMs.p99} ms, max ${r.ackLatencyMs.max} ms`,
    `  errors         ${r.errors} (timeouts ${r.timeouts}, socket errors ${r.socketErrors}, unanswered ${r.unanswered})`,
    ...r.errorSamples.map((s) => `    ${s}`),
    `  client CPU     ${r.clientCpu} of one core`,
    '  not measured remotely:',
    ...r.notMeasured.map((s) => `    - ${s}`),
  ];
  console.log(lines.join('\n'));
}

/** The command: run, print, optionally save; exit code 1 when any request or event failed. */
export async function remoteCommand(opts: RemoteOptions): Promise<number> {
  const r = await runRemote(opts);
  printRemote(r);
  if (opts.out !== null) {
    writeFileSync(opts.out, JSON.stringify(r, null, 2) + '\n');
    console.log(`result: ${opts.out}`);
  }
  return r.errors > 0 || r.acceptedEvents === 0 ? 1 : 0;
}
