import type pg from 'pg';
import { ThrottledLog, type Logger } from '../logger.js';
import { REFRESH_LISTENER_SQL, type RowCapture } from './row-capture.js';

export interface PresenceOptions {
  receiverId: string;
  /** How often this receiver looks (and, while it has subscribers, says it listens). */
  intervalMs: number;
  /** How long a listener row stays fresh: a few intervals. */
  listenerTtlMs: number;
  /** Capture is switched off once no receiver has had a subscriber for this long (the resume window). */
  idleOffMs: number;
  /** True while this receiver's stream reads (it has, or just had, subscribers). */
  active(): boolean;
  /** The capture period this receiver's stream runs in (null: not running). */
  runningSince(): bigint | null;
  /** The capture period ended under a running stream: its subscribers must start over. */
  periodEnded(): void;
}

interface Look {
  state: string;
  since: string | null;
  others: boolean;
}

/**
 * What each receiver knows of the others' streams, from one small query a second, whether or
 * not it has subscribers itself:
 *
 * - while this receiver has subscribers, its row in stream_listeners stays fresh;
 * - `othersListening`: another receiver has subscribers, so this one's commits are worth a
 *   NOTIFY (with nobody listening elsewhere, commits cost no NOTIFY at all);
 * - capture is switched off once nobody has listened for the resume window;
 * - a capture period that changed under this receiver's running stream ends its subscribers.
 */
export class StreamPresence {
  othersListening = false;
  /** The capture switch's state at the last look ('off', 'starting', 'on'; null before the first). */
  captureState: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private looking = false;
  private readonly failures: ThrottledLog;

  constructor(
    private readonly pool: pg.Pool,
    private readonly capture: RowCapture,
    private readonly o: PresenceOptions,
    log: Logger,
  ) {
    this.failures = new ThrottledLog(log, 10_000);
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.lookNow(), this.o.intervalMs);
    this.timer.unref();
    this.lookNow();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look now (also after a subscriber arrives or the last one leaves). */
  lookNow(): void {
    if (this.looking) return;
    this.looking = true;
    this.look()
      .catch((err: unknown) => this.failures.warn({ err: (err as Error).message }, 'stream presence check failed; retrying'))
      .finally(() => (this.looking = false));
  }

  private async look(): Promise<void> {
    const active = this.o.active();
    // One round trip: the refresh (while active) and the look share a simple query.
    const refresh = active ? `${REFRESH_LISTENER_SQL.replace('$1', quote(this.o.receiverId)).replace('$2', String(this.o.listenerTtlMs))};` : '';
    const results = (await this.pool.query(
      `${refresh}SELECT c.state, c.since_xid::text AS since,
         EXISTS (SELECT 1 FROM stream_listeners l WHERE l.expires_at > now() AND l.receiver_id <> ${quote(this.o.receiverId)}) AS others
       FROM stream_capture c`,
    )) as unknown as pg.QueryResult<Look> | pg.QueryResult[];
    const last = Array.isArray(results) ? (results[results.length - 1] as pg.QueryResult<Look>) : results;
    const row = last.rows[0];
    if (row === undefined) return;
    this.othersListening = row.others;
    this.captureState = row.state;
    const running = this.o.runningSince();
    if (running !== null && (row.state !== 'on' || row.since !== running.toString())) {
      this.o.periodEnded();
      return;
    }
    if (!active && !row.others && row.state !== 'off') await this.capture.switchOffIfIdle(this.o.idleOffMs);
  }
}

/** A receiver id is ours (hex), never client input; quoted all the same. */
function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
