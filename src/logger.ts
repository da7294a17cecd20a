import { pino, type Logger } from 'pino';

/**
 * Logs are for people: JSON lines on stderr (written synchronously: there are few of them,
 * and none may be lost when the process exits), one child logger per component, never a
 * line per event, never keys, signatures or payment data.
 */
export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'machpay-receiver' } }, pino.destination({ dest: 2, sync: true }));
}

/** Logs at most once per interval, counting what it suppressed (for pressure and fault paths). */
export class ThrottledLog {
  private last = 0;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    this.log.warn({ ...fields, suppressed: this.suppressed }, message);
    this.suppressed = 0;
  }
}
