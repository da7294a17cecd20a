import type { Logger } from '../logger.js';
import type { InsertedGroup, PostgresCopySink } from '../sinks/postgres/index.js';
import type { Spool } from '../sinks/spool/index.js';
import { decodeBatch } from './batch-codec.js';

/**
 * Moves spooled batches into PostgreSQL, oldest first, one at a time. A record is
 * acknowledged (and its space reclaimed) only after its transaction committed; replaying a
 * batch twice is harmless because every insert is ON CONFLICT DO NOTHING.
 */
export class SpoolReplayer {
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  replayedBatches = 0;

  constructor(
    private readonly spool: Spool,
    private readonly sink: PostgresCopySink,
    private readonly isSinkUp: () => boolean,
    private readonly onInserted: (groups: InsertedGroup[]) => void,
    private readonly onUnavailable: (err: Error) => void,
    private readonly log: Logger,
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Starts a replay pass unless one is running, PostgreSQL is down, or the spool is empty. */
  kick(): void {
    if (this.running || this.stopped || !this.isSinkUp() || this.spool.stats().records === 0) return;
    this.running = true;
    this.drain()
      .catch((err: Error) => this.log.error({ err: err.message }, 'spool replay failed; retrying'))
      .finally(() => {
        this.running = false;
      });
  }

  private async drain(): Promise<void> {
    let first = true;
    while (!this.stopped && this.isSinkUp()) {
      const record = await this.spool.next();
      if (record === null) return;
      if (first) this.log.info({ records: this.spool.stats().records }, 'replaying the spool into PostgreSQL');
      first = false;
      const outcome = await this.sink.write(decodeBatch(record.payload));
      if (!outcome.ok) {
        if (outcome.kind === 'unavailable') return this.onUnavailable(outcome.error);
        // Not retryable: the batch can never be written. Keep it on disk for an operator and
        // stop replaying rather than skip acknowledged data.
        this.log.error({ err: outcome.error.message, record: record.id }, 'a spooled batch was refused by PostgreSQL; replay stopped');
        this.stopped = true;
        return;
      }
      await this.spool.acknowledge(record.id);
      this.replayedBatches++;
      if (outcome.inserted.length > 0) this.onInserted(outcome.inserted);
    }
  }

  /** Waits for the replay pass in progress, if any, and stops replaying. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }
}
