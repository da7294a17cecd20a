/**
 * Runs a reload at most once per interval however often it is requested, and always once
 * more after the last request, so the figures shown end up current after a burst.
 */
export class Throttle {
  private running = false;
  private pending = false;
  private lastStart = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly work: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  request(): void {
    if (this.stopped) return;
    this.pending = true;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.running || this.timer !== null || !this.pending) return;
    const wait = Math.max(0, this.lastStart + this.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, wait);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.pending = false;
    this.running = true;
    this.lastStart = performance.now();
    try {
      await this.work();
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
