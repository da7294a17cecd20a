import pg from 'pg';

/**
 * Watches PostgreSQL from the test process, independently of the receiver, so that the
 * oracle can tell a 503 the protocol allows (PostgreSQL really unavailable, docs/protocol.md
 * §6 not_ready) from one the receiver had no reason to give.
 *
 * A probe (`SELECT 1` on a connection of its own, 3 s timeout: a loaded machine is slow, not
 * down) runs every `intervalMs`. Two failures in a row make an outage, which runs from the
 * last probe that succeeded before them to the first that succeeds after, plus `graceMs` for
 * the receiver's own health check to notice the recovery.
 */
export class PostgresWatch {
  private readonly outages: { from: number; to: number }[] = [];
  private lastOk = performance.now();
  private failuresInRow = 0;
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  probes = 0;

  constructor(
    private readonly url: string,
    private readonly intervalMs = 250,
    private readonly graceMs = 10_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  /** Whether PostgreSQL was unavailable at some moment of [from, to] (performance.now() ms). */
  wasDownDuring(from: number, to: number): boolean {
    if (this.failuresInRow >= 2 && to >= this.lastOk) return true;
    return this.outages.some((o) => from <= o.to + this.graceMs && to >= o.from);
  }

  /** Outages seen, for the report. */
  get outageCount(): number {
    return this.outages.length + (this.failuresInRow >= 2 ? 1 : 0);
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    const started = performance.now();
    let ok = false;
    try {
      if (this.client === null) {
        const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 3000, query_timeout: 3000 });
        client.on('error', () => undefined);
        this.client = client;
        await client.connect();
      }
      await this.client.query('SELECT 1');
      ok = true;
    } catch {
      // A connection that failed once is not trusted again: the next probe opens a new one.
      void this.client?.end().catch(() => undefined);
      this.client = null;
    } finally {
      this.probes++;
      this.probing = false;
    }
    if (ok) {
      if (this.failuresInRow >= 2) this.outages.push({ from: this.lastOk, to: performance.now() });
      this.failuresInRow = 0;
      this.lastOk = started;
    } else {
      this.failuresInRow++;
    }
  }
}
