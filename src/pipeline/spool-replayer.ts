import type { Logger } from '../logger.js';
import { TABLES, type CopyBatch, type PostgresCopySink } from '../sinks/postgres/index.js';
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
  /** After each replayed batch is acknowledged: its record's bytes and its rows (progress for `spool replay`). */
  batchReplayed?(bytes: number, rows: number): void;
}

/** How a replay pass ended: the spool empty, stopped, PostgreSQL down, or a batch refused (`error` says why). */
export interface ReplayPass {
  batches: number;
  end: 'empty' | 'stopped' | 'unavailable' | 'refused';
  error?: Error;
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
    // On a timer, not in this turn of the event loop: when PostgreSQL comes back, the health
    // check closes the pool's idle connections and then kicks the replayer, and the pool lets
    // go of those connections only once their sockets have closed, at the end of this turn.
    // A pass started at once (its record already read, so no I/O in between) would take one
    // of them, fail, mark PostgreSQL down again, and do the same after every hold-down.
    setTimeout(() => {
      this.runPass()
        .catch((err: Error) => this.log.error({ err: err.message }, 'spool replay failed; retrying'))
        .finally(() => {
          this.running = false;
        });
    }, 0);
  }

  /**
   * One pass now, to the end of the spool or the first failure, for a one-shot replay
   * without the timer (`spool replay`). Rejects if a pass is already running.
   */
  async replayNow(): Promise<ReplayPass> {
    if (this.running) throw new Error('a spool replay pass is already running');
    this.running = true;
    try {
      return await this.runPass();
    } finally {
      this.running = false;
    }
  }

  private async runPass(): Promise<ReplayPass> {
    const pass: ReplayPass = { batches: 0, end: 'stopped' };
    try {
      await this.replayAll(pass);
    } finally {
      if (pass.batches > 0) this.hooks.passReplayed?.(pass.batches);
    }
    return pass;
  }

  /** Replays until the spool is empty, PostgreSQL is down, or a batch is refused; `pass` counts the batches committed and says how it ended. */
  private async replayAll(pass: ReplayPass): Promise<void> {
    let first = true;
    while (!this.stopped && this.isSinkUp()) {
      const record = await this.spool.next();
      if (record === null) {
        pass.end = 'empty';
        return;
      }
      if (first) this.log.info({ records: this.spool.stats().records }, 'replaying the spool into PostgreSQL');
      first = false;
      const batch = decodeBatch(record.payload);
      const outcome = await this.sink.write(batch);
      if (!outcome.ok) {
        pass.error = outcome.error;
        if (outcome.kind === 'unavailable') {
          pass.end = 'unavailable';
          this.onUnavailable(outcome.error);
          return;
        }
        // PostgreSQL refuses this batch as it is (a schema or privilege change, a row it will
        // not take). Acknowledged data is never skipped: the batch stays first on disk, and it
        // is tried again after a pause that doubles up to 5 minutes, so an operator's fix is
        // picked up without a restart.
        this.refusedPauseMs = Math.min(Math.max(this.refusedPauseMs * 2, REFUSED_FIRST_PAUSE_MS), REFUSED_MAX_PAUSE_MS);
        this.refusedUntil = performance.now() + this.refusedPauseMs;
        this.log.error({ err: outcome.error.message, record: record.id, retryInMs: this.refusedPauseMs }, 'a spooled batch was refused by PostgreSQL; replay pauses');
        pass.end = 'refused';
        return;
      }
      this.refusedPauseMs = 0;
      pass.batches++;
      this.hooks.committed?.();
      await this.spool.acknowledge(record.id);
      this.replayedBatches++;
      this.hooks.batchReplayed?.(record.payload.byteLength, rowCount(batch));
    }
  }

  /** Waits for the replay pass in progress, if any, and stops replaying. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }
}

function rowCount(batch: CopyBatch): number {
  let rows = 0;
  for (const t of TABLES) rows += batch.rows[t];
  return rows;
}
