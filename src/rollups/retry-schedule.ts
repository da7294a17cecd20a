import { backoffDelayMs } from '../retry/index.js';

/** When a failed write is tried again: the receiver's backoff (src/retry), one timer at a time. */
export class RetrySchedule {
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly retry: () => void,
  ) {}

  /** True while a retry is scheduled: writers then leave the outbox alone until it fires. */
  get waiting(): boolean {
    return this.timer !== null;
  }

  /** Records a failure and schedules the retry; returns the delay chosen. */
  failed(): number {
    this.failures++;
    const delay = backoffDelayMs(this.failures - 1, { initialDelayMs: this.baseMs, maxDelayMs: this.capMs });
    this.cancel();
    // unref: a pending retry must not keep a stopping process alive.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.retry();
    }, delay).unref();
    return delay;
  }

  succeeded(): void {
    this.failures = 0;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
