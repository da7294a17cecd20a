/**
 * The durability floor under the target scenario's ack latency. A 202 means the rows are
 * committed, so no server answers sooner than PostgreSQL commits; on a disk whose flushes
 * sometimes stall, that sets the tail of every such server's latency. During a run, one
 * connection of its own commits one-row transactions on an even schedule, and each one's
 * latency counts from its scheduled start: a flush that stalls for 200 ms weighs as it does
 * for the requests that arrive during it, not as a single slow sample.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { SampleBuffer, roundPercentiles, type Percentiles } from './stats.js';

export interface CommitFloor {
  /** Commits attempted per second. */
  ratePerS: number;
  /** From each commit's slot (or its sending, if its timer fired early) to its acknowledgement by PostgreSQL. */
  latencyMs: Percentiles;
  /** Commits that failed: not in `latencyMs`, so any at all make the floor suspect. */
  failures: number;
}

const TABLE = 'bench_commit_probe';

export class CommitProbe {
  private readonly latencies = new SampleBuffer();
  private failures = 0;
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: pg.Client,
    private readonly ratePerS: number,
  ) {}

  /** `databaseUrl` names a database of the same PostgreSQL as the server under test (its WAL and disk are shared). */
  static async start(databaseUrl: string, ratePerS: number): Promise<CommitProbe> {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (at timestamptz NOT NULL)`);
    const probe = new CommitProbe(client, ratePerS);
    probe.loop = probe.run();
    return probe;
  }

  private async run(): Promise<void> {
    const period = 1000 / this.ratePerS;
    const start = performance.now();
    for (let k = 0; !this.stopping; k++) {
      const slot = start + k * period;
      const wait = slot - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.stopping) break;
      // A timer can fire up to a millisecond early: then the commit counts from its sending.
      const from = Math.min(slot, performance.now());
      try {
        await this.client.query(`INSERT INTO ${TABLE} VALUES (now())`);
        this.latencies.push(performance.now() - from);
      } catch {
        this.failures++;
      }
    }
  }

  async finish(): Promise<CommitFloor> {
    this.stopping = true;
    await this.loop;
    await this.client.end().catch(() => undefined);
    return {
      ratePerS: this.ratePerS,
      latencyMs: roundPercentiles(this.latencies.percentiles()),
      failures: this.failures,
    };
  }
}
