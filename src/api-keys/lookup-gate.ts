/** Thrown when more key lookups wait than the gate holds: the caller answers 429, not 401. */
export class KeyLookupBusyError extends Error {
  constructor() {
    super('Too many API key lookups are waiting for PostgreSQL.');
  }
}

/**
 * At most `concurrency` lookups run at once and at most `maxWaiting` wait for a turn; past
 * that a lookup fails at once with KeyLookupBusyError. A flood of unknown keys then costs the
 * database a fixed number of queries at a time, and the receiver a bounded queue.
 */
export class LookupGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new KeyLookupBusyError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      // The turn passes straight to the next waiter (running stays the same), else it ends.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }

  get inFlight(): number {
    return this.running;
  }
}
