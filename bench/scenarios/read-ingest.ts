/**
 * The ingest side of the `read` scenario: signed batches of 100 interaction events sent to
 * the receiver while reads run, to measure reads under ingest at half its maximum and what
 * the reads cost ingest's maximum (docs/read-api.md §3 targets). Requests are signed before
 * each run (presign.ts), so the load generator's core goes to sending and reading.
 */
import { AgentSet } from '../agents.js';
import type { BenchContext } from '../bench-context.js';
import { runLoad, type LoadResult } from '../load.js';
import { Presigner } from '../presign.js';
import { batchSource } from '../request-bodies.js';

const BATCH = 100;
const AGENTS = 64;
/** Closed loop: batches are ~40 KiB, and a few connections keep the receiver's pipeline full. */
const MAX_CONNECTIONS = 8;
/** Paced runs need room for answers that come late while reads compete for the receiver. */
const PACED_CONNECTIONS = 32;
/** Most batches signed for one run (~60 KiB each). */
const PRESIGN_LIMIT = 20_000;

export interface IngestRun {
  eventsPerS: number;
  errors: number;
  p99Ms: number;
}

export class ReadScenarioIngest {
  private readonly presigner = new Presigner(batchSource(new AgentSet(AGENTS), BATCH), BATCH, 20_000, PRESIGN_LIMIT);

  constructor(private readonly ctx: BenchContext) {}

  /**
   * As many events as the receiver takes in `seconds`, closed loop. The requests are signed
   * now: the run this returns must not stall the event loop that also asks the reads.
   */
  max(label: string, seconds: number): () => Promise<IngestRun> {
    return this.prepare(label, seconds, MAX_CONNECTIONS);
  }

  /** `eventsPerS` on an even schedule for `seconds`, signed now (as max). */
  paced(label: string, seconds: number, eventsPerS: number): () => Promise<IngestRun> {
    return this.prepare(label, seconds, PACED_CONNECTIONS, eventsPerS / BATCH);
  }

  private prepare(label: string, seconds: number, connections: number, ratePerS?: number): () => Promise<IngestRun> {
    const source = this.presigner.run('receiver', seconds);
    return async () => {
      const r: LoadResult = await runLoad({
        label: `read: ingest ${label}`,
        url: this.ctx.receiver.url,
        connections,
        durationS: seconds,
        ...(ratePerS === undefined ? {} : { ratePerS }),
        source,
        trustResponses: true,
      });
      source.done(r);
      return { eventsPerS: Math.round(r.eventsPerS), errors: r.errors, p99Ms: r.latencyMs.p99 };
    };
  }
}
