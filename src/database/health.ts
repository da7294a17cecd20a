import type pg from 'pg';
import type { Logger } from '../logger.js';

/**
 * Whether PostgreSQL takes writes. A failed batch marks it down; a probe then retries a
 * trivial query every interval until it answers, and readiness follows.
 */
export class PostgresHealth {
  private up = true;
  private probe: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly onChange: (up: boolean) => void,
    private readonly intervalMs = 1000,
  ) {}

  get isUp(): boolean {
    return this.up;
  }

  markDown(err: Error): void {
    if (this.up) {
      this.up = false;
      this.log.warn({ err: err.message }, 'PostgreSQL unavailable: acknowledging through the spool (or 503 without one) until it is back');
      this.onChange(false);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.probe !== null || this.stopped) return;
    this.probe = setTimeout(() => {
      this.probe = null;
      this.pool.query('SELECT 1').then(
        () => {
          this.up = true;
          this.log.info('PostgreSQL is back');
          this.onChange(true);
        },
        () => this.schedule(),
      );
    }, this.intervalMs);
    this.probe.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.probe !== null) clearTimeout(this.probe);
  }
}
