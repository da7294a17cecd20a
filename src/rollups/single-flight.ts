/**
 * Runs an async job one at a time. A call while it runs does not start a second one: it
 * asks for one more pass and waits for the pass that will include its work.
 *
 * Why not `running ??= job().finally(() => running = null)`: between the job's last look
 * at its queue and the `finally` callback there is a microtask gap, and a caller that
 * enqueues in that gap is handed the finished promise, so its rows wait for the next flush.
 * Here the check for another pass and the reset of `running` happen in one synchronous
 * step, so every caller is either seen by a pass or starts a new one.
 */
export class SingleFlight {
  private running = false;
  private again = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves once a pass that started after this call has finished; never rejects. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.again = true;
    if (!this.running) {
      this.running = true;
      void this.loop();
    }
    return done;
  }

  private async loop(): Promise<void> {
    let waiters: Array<() => void> = [];
    try {
      while (this.again) {
        this.again = false;
        // Callers so far are served by this pass; later ones set `again` and wait for the next.
        waiters = waiters.concat(this.waiters);
        this.waiters = [];
        try {
          await this.job();
        } catch (err) {
          this.onError(err);
        }
        for (const resolve of waiters) resolve();
        waiters = [];
      }
    } finally {
      this.running = false;
    }
  }
}
