/**
 * When a failed write is tried again: jittered exponential backoff, one timer at a time.
 *
 * Equal jitter (half the ceiling fixed, half random) rather than full jitter: a write to a
 * server that refuses connections fails in microseconds, and full jitter's near-zero draws
 * would turn into a burst of attempts. Receivers still spread out over the random half.
 */
export function backoffDelayMs(failures: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

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
    const delay = backoffDelayMs(this.failures, this.baseMs, this.capMs);
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
