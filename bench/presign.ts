/**
 * Requests signed before the load run that sends them, so that the load generator's core
 * goes to sending. Live, building and signing a batch of 100 events (60 KB) costs the load
 * generator more than the receiver spends verifying it, and signing thousands of single-event
 * requests per second takes half its core: both would bound the servers by the load generator.
 */
import { performance } from 'node:perf_hooks';
import type { LoadResult } from './load.js';
import type { BenchRequest, RequestSource } from './request-bodies.js';

/**
 * Signed requests replayed in order. Each target gets its own cursor over the same requests
 * (the targets write to different databases, so replaying is not a duplicate); past the end,
 * requests are built live and counted.
 */
export class PresignedPool {
  private readonly requests: BenchRequest[] = [];

  constructor(private readonly live: RequestSource) {}

  fill(count: number): void {
    for (let i = 0; i < count; i++) this.requests.push(this.live.next());
  }

  /**
   * `wrap`: start over at the end instead of building live. Only for a target that stores
   * nothing (the bare uWS ceiling), where a repeated request is not a duplicate row.
   */
  cursor(wrap = false): RequestSource & { liveBuilt: () => number } {
    let i = 0;
    let live = 0;
    return {
      next: () => {
        if (wrap && i === this.requests.length && i > 0) i = 0;
        if (i < this.requests.length) return this.requests[i++] as BenchRequest;
        live++;
        return this.live.next();
      },
      liveBuilt: () => live,
    };
  }
}

/** A source for one load run; `done` takes the run's result once it is over. */
export interface RunSource extends RequestSource {
  done(result: LoadResult): void;
}

export interface PresignStats {
  requests: number;
  /** Requests built live past the end of a pool, per target. */
  liveBuilt: Record<string, number>;
  signSeconds: number;
}

/**
 * Sizes each pool from the fastest rate any run has reached so far, with room to spare
 * (a run may beat it: the ramp's next level, or a hold after a short step).
 */
export class Presigner {
  private fastestEventsPerS: number;
  private requests = 0;
  private seconds = 0;
  private readonly liveBuilt = new Map<string, number>();

  /**
   * `floorEventsPerS`: the rate assumed before any run has finished. `limit`: the most requests
   * in one pool (memory: ~1 KiB a single event, ~60 KiB a batch of 100).
   */
  constructor(
    private readonly live: RequestSource,
    private readonly eventsPerRequest: number,
    floorEventsPerS: number,
    private readonly limit: number,
    private readonly margin = 1.5,
  ) {
    this.fastestEventsPerS = floorEventsPerS;
  }

  /** A pool for `durationS` seconds at the fastest rate so far. */
  pool(durationS: number): PresignedPool {
    const count = Math.min(this.limit, Math.ceil(((this.fastestEventsPerS * durationS) / this.eventsPerRequest) * this.margin) + 100);
    const pool = new PresignedPool(this.live);
    const t = performance.now();
    pool.fill(count);
    this.seconds += (performance.now() - t) / 1000;
    this.requests += count;
    return pool;
  }

  /** `name`'s run over `pool`; its result raises the rate the next pools are sized for. */
  replay(pool: PresignedPool, name: string, wrap = false): RunSource {
    const c = pool.cursor(wrap);
    return {
      next: c.next,
      done: (result) => {
        this.liveBuilt.set(name, (this.liveBuilt.get(name) ?? 0) + c.liveBuilt());
        if (!wrap) this.fastestEventsPerS = Math.max(this.fastestEventsPerS, result.eventsPerS);
      },
    };
  }

  /** A fresh pool for one run of `durationS` seconds by `name` alone. */
  run(name: string, durationS: number): RunSource {
    return this.replay(this.pool(durationS), name);
  }

  stats(): PresignStats {
    return { requests: this.requests, liveBuilt: Object.fromEntries(this.liveBuilt), signSeconds: Math.round(this.seconds * 10) / 10 };
  }
}

/** Several presigners' stats as one (a scenario's ramps and holds). */
export function sumPresignStats(all: readonly PresignStats[]): PresignStats {
  const liveBuilt: Record<string, number> = {};
  for (const st of all) for (const [k, v] of Object.entries(st.liveBuilt)) liveBuilt[k] = (liveBuilt[k] ?? 0) + v;
  return { requests: all.reduce((a, st) => a + st.requests, 0), liveBuilt, signSeconds: Math.round(all.reduce((a, st) => a + st.signSeconds, 0) * 10) / 10 };
}
