/**
 * One load step: autocannon against one target with one request source, for a fixed time.
 *
 * Two things autocannon does not do are added by wrapping each connection's `_doRequest`
 * (setupClient): pacing (an open-loop schedule of evenly spaced send times, instead of
 * autocannon's per-second bursts) and draining (at the end, stop sending and wait for the
 * answers in flight, so every event the target acknowledged is counted, which the row
 * audit needs). Latency is measured here, per request, from its scheduled send time (paced)
 * or its send time (closed loop) to the parsed response, in fractional milliseconds.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { BenchRequest, ProbeKey, RequestKind, RequestSource } from './request-bodies.js';
import { median, SampleBuffer, type Percentiles, round, roundPercentiles } from './stats.js';
import type { Progress } from './progress.js';

export interface LoadSpec {
  label: string;
  /** http://127.0.0.1:port */
  url: string;
  connections: number;
  durationS: number;
  /** Requests per second on an even schedule (open loop); closed loop when absent. */
  ratePerS?: number;
  source: RequestSource;
  /** true: count accepted events from the 202 bodies (receiver, peer); false: count what was sent (bare ceiling). */
  trustResponses: boolean;
  /** Called for every 202 with the request's probe key and the time the answer was parsed. */
  onAck?: (probe: ProbeKey, ackAt: number) => void;
  progress?: Progress;
}

export interface LoadResult {
  label: string;
  connections: number;
  durationS: number;
  /** From the first request to the last answer of the drain. */
  wallS: number;
  offeredRatePerS: number | null;
  requests: {
    sent: number;
    answered: number;
    byStatus: Record<string, number>;
    timeouts: number;
    socketErrors: number;
    /** Sent and never answered (connection lost, or still open when the drain deadline passed). */
    unanswered: number;
  };
  /** Events in requests sent, acknowledged (202 accepted), rejected inside a 202, acknowledged within the window. */
  events: { sent: number; acked: number; rejected: number; ackedInWindow: number };
  /** Per request kind: requests sent, events in them, events acknowledged. */
  byKind: Partial<Record<RequestKind, KindCounts>>;
  eventsPerS: number;
  requestsPerS: number;
  latencyMs: Percentiles;
  /**
   * Paced runs: how late requests left against their schedule (all connections were busy, or
   * the load generator was starved of CPU). Large values mean the latency includes waiting for
   * a free connection in the load generator (counted on purpose: no coordinated omission).
   */
  sendLatenessMs: Percentiles | null;
  /** Accepted events per second of the measured window. */
  perSecond: number[];
  /** Median of `perSecond`: robust to a stall caused by other sessions on the machine. */
  perSecondMedian: number;
  /** Non-202 answers + timeouts + socket errors + rejected events + unanswered requests. */
  errors: number;
  /** First few bodies of non-202 answers or partial acceptances. */
  errorSamples: string[];
  /** Share of one core the load generator process used during the step. */
  clientCpu: number;
}

export interface KindCounts {
  sent: number;
  eventsSent: number;
  acked: number;
}

const DRAIN_DEADLINE_MS = 15_000;
const MAX_ERROR_SAMPLES = 5;

interface RequestContext extends autocannon.Context {
  r?: BenchRequest;
  t?: number;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies = new SampleBuffer();
  const lateness = new SampleBuffer();
  const perSecond = new Array<number>(Math.ceil(spec.durationS)).fill(0);
  const byStatus: Record<string, number> = {};
  const byKind: LoadResult['byKind'] = {};
  const errorSamples: string[] = [];
  const okBodies = new Map<number, string>();
  let sent = 0;
  let eventsSent = 0;
  let answered = 0;
  let acked = 0;
  let ackedInWindow = 0;
  let rejected = 0;
  let draining = false;
  let intendedAt = -1;

  const interval = spec.ratePerS === undefined ? 0 : 1000 / spec.ratePerS;
  // The schedule and the window begin once autocannon has built its clients: building a
  // hundred of them holds this thread for tens of milliseconds, which would otherwise count
  // as the latency of the first requests of whatever server is measured.
  let start = 0;
  let nextSlot = 0;
  let windowEnd = Infinity;
  const cpuStart = process.cpuUsage();

  const okBody = (n: number): string => {
    let s = okBodies.get(n);
    if (s === undefined) okBodies.set(n, (s = `{"accepted":${n},"rejected":[]}`));
    return s;
  };

  const instance = autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      // Stopped by hand after the drain; this is only a backstop.
      duration: spec.durationS + DRAIN_DEADLINE_MS / 1000 + 30,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          setupRequest: (req, context) => {
            const r = spec.source.next();
            const ctx = context as RequestContext;
            ctx.r = r;
            ctx.t = intendedAt >= 0 ? intendedAt : performance.now();
            sent++;
            eventsSent += r.events;
            const k = (byKind[r.kind] ??= { sent: 0, eventsSent: 0, acked: 0 });
            k.sent++;
            k.eventsSent += r.events;
            return { ...req, method: 'POST', path: r.path, headers: r.headers, body: r.body };
          },
          onResponse: (status, body, context) => {
            const now = performance.now();
            const ctx = context as RequestContext;
            const r = ctx.r;
            answered++;
            byStatus[status] = (byStatus[status] ?? 0) + 1;
            if (r === undefined) return;
            latencies.push(now - (ctx.t ?? now));
            if (status !== 202) {
              if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`${status} ${body.slice(0, 300)}`);
              return;
            }
            let n = r.events;
            if (spec.trustResponses && body !== okBody(r.events)) {
              const parsed = parseAck(body);
              n = parsed.accepted;
              rejected += parsed.rejected;
              if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`202 ${body.slice(0, 300)}`);
            }
            acked += n;
            (byKind[r.kind] as KindCounts).acked += n;
            if (now < windowEnd) {
              ackedInWindow += n;
              const s = Math.floor((now - start) / 1000);
              if (s < perSecond.length) perSecond[s] = (perSecond[s] as number) + n;
            }
            if (spec.onAck !== undefined && r.probe !== null) spec.onAck(r.probe, now);
          },
        },
      ],
      setupClient: (client) => {
        if (typeof client._doRequest !== 'function') throw new Error('autocannon internals changed: Client._doRequest is missing');
        const send = client._doRequest.bind(client);
        client._doRequest = (...args: unknown[]) => {
          if (draining || client.destroyed) return;
          if (interval === 0) return send(...args);
          // Asked for while autocannon is still being built: take a slot once the schedule begins.
          if (start === 0) return void setTimeout(() => client._doRequest(...args), 0);
          // The next free slot of the shared schedule; late slots are sent at once and their
          // latency still counts from the slot (no coordinated omission).
          const slot = nextSlot;
          nextSlot += interval;
          const go = () => {
            if (draining || client.destroyed) return;
            // Sent late: latency counts from the slot. Sent a hair early: from the send.
            const now = performance.now();
            lateness.push(Math.max(0, now - slot));
            intendedAt = Math.min(slot, now);
            // The first request of a connection was built before it connected: give it its slot.
            if (client.reqsMade === 0) client.requestIterator.context.t = intendedAt;
            send(...args);
            intendedAt = -1;
          };
          const wait = slot - performance.now();
          if (wait <= 0.2) go();
          else setTimeout(go, wait);
        };
      },
    },
    () => undefined,
  );
  start = performance.now();
  nextSlot = start;
  windowEnd = start + spec.durationS * 1000;

  // Timeouts and socket errors: those requests will never be answered, so the drain stops waiting for them.
  let lost = 0;
  instance.on('reqError', () => lost++);

  let result: autocannon.Result | null = null;
  const done = new Promise<void>((resolve) => {
    instance.once('done', (r: autocannon.Result) => {
      result = r;
      resolve();
    });
  });

  const ticker = setInterval(() => {
    const elapsed = (performance.now() - start) / 1000;
    const s = Math.min(perSecond.length - 1, Math.max(0, Math.floor(elapsed) - 1));
    spec.progress?.update(spec.label, elapsed, spec.durationS, perSecond[s] ?? 0, answered - (byStatus[202] ?? 0));
  }, 1000);

  await sleep(spec.durationS * 1000);
  draining = true;
  const drainDeadline = performance.now() + DRAIN_DEADLINE_MS;
  while (sent - answered - lost > 0 && performance.now() < drainDeadline) await sleep(20);
  const wallS = (performance.now() - start) / 1000;
  instance.stop();
  await done;
  clearInterval(ticker);
  spec.progress?.clear();
  const cpu = process.cpuUsage(cpuStart);

  const r = result as autocannon.Result | null;
  const timeouts = r?.timeouts ?? 0;
  const socketErrors = Math.max(0, (r?.errors ?? 0) - timeouts);
  // Lost requests (timeouts, socket errors) are counted once, as such; the rest never got an answer.
  const unanswered = Math.max(0, sent - answered - lost);
  const non202 = answered - (byStatus[202] ?? 0);
  return {
    label: spec.label,
    connections: spec.connections,
    durationS: spec.durationS,
    wallS: round(wallS, 2),
    offeredRatePerS: spec.ratePerS ?? null,
    requests: { sent, answered, byStatus, timeouts, socketErrors, unanswered },
    events: { sent: eventsSent, acked, rejected, ackedInWindow },
    byKind,
    eventsPerS: round(ackedInWindow / spec.durationS),
    requestsPerS: round((byStatus[202] ?? 0) / wallS, 1),
    latencyMs: roundPercentiles(latencies.percentiles()),
    sendLatenessMs: interval === 0 ? null : roundPercentiles(lateness.percentiles()),
    perSecond,
    perSecondMedian: median(perSecond),
    errors: non202 + socketErrors + timeouts + rejected + unanswered,
    errorSamples,
    clientCpu: round((cpu.user + cpu.system) / 1e6 / wallS, 3),
  };
}

function parseAck(body: string): { accepted: number; rejected: number } {
  try {
    const v = JSON.parse(body) as { accepted?: unknown; rejected?: unknown };
    return { accepted: typeof v.accepted === 'number' ? v.accepted : 0, rejected: Array.isArray(v.rejected) ? v.rejected.length : 0 };
  } catch {
    return { accepted: 0, rejected: 0 };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
