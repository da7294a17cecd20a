import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { ProbeKey } from './request-bodies.js';
import { SampleBuffer, roundPercentiles, type Percentiles } from './stats.js';

export interface VisibilityResult {
  sampled: number;
  /** Found by the first SELECT after the 202: what "202 means committed" predicts for every sample. */
  visibleOnFirstPoll: number;
  /** Not visible within the give-up time (or the lookup failed): an acknowledged event that is not stored. */
  missing: number;
  /** Samples skipped because too many probes were already running (keeps the probe from becoming load). */
  skipped: number;
  /** From the parsed 202 to the end of the SELECT that returned the row. */
  visibilityMs: Percentiles;
  /** Round trip of that last SELECT alone: the floor under the visibility figure. */
  queryRttMs: Percentiles;
}

const MAX_IN_FLIGHT = 32;
const GIVE_UP_MS = 10_000;
const RETRY_MS = 2;
const SQL = 'SELECT 1 FROM agent_interactions WHERE time = $1 AND agent_id = $2 AND nonce = $3';

/**
 * Measures the time from a 202 to its row being visible to another connection, for one in
 * `every` acknowledged requests: poll with an index lookup (agent_id, time) until the row is there.
 */
export class VisibilityProbe {
  private readonly pool: pg.Pool;
  private n = 0;
  private inFlight = 0;
  private sampled = 0;
  private firstPoll = 0;
  private missing = 0;
  private skipped = 0;
  private readonly visibility = new SampleBuffer();
  private readonly rtt = new SampleBuffer();
  private readonly running = new Set<Promise<void>>();

  constructor(
    databaseUrl: string,
    private readonly every: number,
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  }

  readonly onAck = (probe: ProbeKey, ackAt: number): void => {
    if (++this.n % this.every !== 0) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.skipped++;
      return;
    }
    this.sampled++;
    this.inFlight++;
    const p = this.poll(probe, ackAt)
      .catch(() => {
        this.missing++;
      })
      .finally(() => {
        this.inFlight--;
        this.running.delete(p);
      });
    this.running.add(p);
  };

  private async poll(probe: ProbeKey, ackAt: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const sentAt = performance.now();
      const res = await this.pool.query({ name: 'bench_probe', text: SQL, values: [probe.time, probe.agentId, probe.nonce] });
      const now = performance.now();
      if ((res.rowCount ?? 0) > 0) {
        this.visibility.push(now - ackAt);
        this.rtt.push(now - sentAt);
        if (attempt === 1) this.firstPoll++;
        return;
      }
      if (now - ackAt > GIVE_UP_MS) {
        this.missing++;
        return;
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  async finish(): Promise<VisibilityResult> {
    await Promise.allSettled([...this.running]);
    await this.pool.end();
    return {
      sampled: this.sampled,
      visibleOnFirstPoll: this.firstPoll,
      missing: this.missing,
      skipped: this.skipped,
      visibilityMs: roundPercentiles(this.visibility.percentiles()),
      queryRttMs: roundPercentiles(this.rtt.percentiles()),
    };
  }
}
