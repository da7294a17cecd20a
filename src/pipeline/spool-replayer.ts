import type { Logger } from '../logger.js';
import type { PostgresCopySink } from '../sinks/postgres/index.js';
import type { Spool } from '../sinks/spool/index.js';
import { decodeBatch } from './batch-codec.js';

/** What the replayer tells the rest of the receiver. */
export interface ReplayHooks {
  /** After each replayed batch commits (the stream's wake-up). */
  committed?(): void;
  /**
   * After a pass that committed at least one batch. A spooled batch does not say which
   * agents it holds without decoding its rows, so whoever needs that (the alerts) looks at
   * everything once per pass instead of per batch.
   */
  passReplayed?(batches: number): void;
}

const REFUSED_FIRST_PAUSE_MS = 5_000;
const REFUSED_MAX_PAUSE_MS = 300_000;

/**
 * Moves spooled batches into PostgreSQL, oldest first, one at a time. A record is
 * acknowledged (and its space reclaimed) only after its transaction committed; replaying a
 * batch twice is harmless because every insert is ON CONFLICT DO NOTHING, and the rollups
 * count only what a transaction inserted (its tallies commit with its rows).
 */
export class SpoolReplayer {
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  /** After PostgreSQL refused a batch: no replay before this (performance.now()), and the next pause. */
  private refusedUntil = 0;
  private refusedPauseMs = 0;
  replayedBatches = 0;

  constructor(
    private readonly spool: Spool,
    private readonly sink: PostgresCopySink,
    private readonly isSinkUp: () => boolean,
    private readonly onUnavailable: (err: Error) => void,
    private readonly log: Logger,
    private readonly hooks: ReplayHooks = {},
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Starts a replay pass unless one is running, PostgreSQL is down, or the spool is empty. */
  kick(): void {
    if (this.running || this.stopped || !this.isSinkUp() || this.spool.stats().records === 0) return;
    if (performance.now() < this.refusedUntil) return;
    this.running = true;
    this.drain()
      .catch((err: Error) => this.log.error({ err: err.message }, 'spool replay failed; retrying'))
      .finally(() => {
        this.running = false;
      });
  }

  private async drain(): Promise<void> {
    let replayed = 0;
    try {
      replayed = await this.replayAll();
    } finally {
      if (replayed > 0) this.hooks.passReplayed?.(replayed);
    }
  }

  /** Replays until the spool is empty, PostgreSQL is down, or a batch is refused; returns the batches committed. */
  private async replayAll(): Promise<number> {
    let replayed = 0;
    let first = true;
    while (!this.stopped && this.isSinkUp()) {
      const record = await this.spool.next();
      if (record === null) return replayed;
      if (first) this.log.info({ records: this.spool.stats().records }, 'replaying the spool into PostgreSQL');
      first = false;
      const outcome = await this.sink.write(decodeBatch(record.payload));
      if (!outcome.ok) {
        if (outcome.kind === 'unavailable') {
          this.onUnavailable(outcome.error);
          return replayed;
        }
        // PostgreSQL refuses this batch as it is (a schema or privilege change, a row it will
        // not take). Acknowledged data is never skipped: the batch stays first on disk, and it
        // is tried again after a pause that doubles up to 5 minutes, so an operator's fix is
        // picked up without a restart.
        this.refusedPauseMs = Math.min(Math.max(this.refusedPauseMs * 2, REFUSED_FIRST_PAUSE_MS), REFUSED_MAX_PAUSE_MS);
        this.refusedUntil = performance.now() + this.refusedPauseMs;
        this.log.error({ err: outcome.error.message, record: record.id, retryInMs: this.refusedPauseMs }, 'a spooled batch was refused by PostgreSQL; replay pauses');
        return replayed;
      }
      this.refusedPauseMs = 0;
      replayed++;
      this.hooks.committed?.();
      await this.spool.acknowledge(record.id);
      this.replayedBatches++;
    }
    return replayed;
  }

  /** Waits for the replay pass in progress, if any, and stops replaying. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }
}
