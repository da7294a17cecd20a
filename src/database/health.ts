import { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { dropConnections } from './pool.js';

export interface PostgresHealthOptions {
  /** Pause between two probes, whether PostgreSQL is up or down. */
  intervalMs: number;
  /**
   * The most one probe may take, connecting included. 1.5 s: a fresh connection and one
   * query take milliseconds; a probe that takes this long means a server that does not
   * answer (black-holed, frozen), which no socket error will ever report.
   */
  probeTimeoutMs: number;
  /** Probes in a row that must time out before PostgreSQL counts as down (one slow probe under load is not an outage). */
  timeoutsToMarkDown: number;
  /** After a failed write, how long PostgreSQL stays down even if probes succeed: the first time. */
  holdDownMs: number;
  /** …doubling each time writes fail again within `stableMs` of coming back, up to this. */
  maxHoldDownMs: number;
  /** Up this long without a failed write, and the hold-down starts over from `holdDownMs`. */
  stableMs: number;
}

export const DEFAULT_POSTGRES_HEALTH_OPTIONS: PostgresHealthOptions = Object.freeze({
  intervalMs: 1000,
  probeTimeoutMs: 1500,
  timeoutsToMarkDown: 2,
  holdDownMs: 1000,
  maxHoldDownMs: 30_000,
  stableMs: 30_000,
});

/** What readiness reports about PostgreSQL. */
export interface PostgresStatus {
  up: boolean;
  /** Why, for people: "writable", "read-only: …", "probe timed out …", the last error. */
  detail: string;
  /** When `up` last changed (ms since the epoch). */
  since: number;
  /** Duration of the last probe that finished, or null before the first. */
  lastProbeMs: number | null;
}

type ProbeResult = { ok: true } | { ok: false; timedOut: boolean; detail: string };

/**
 * Whether PostgreSQL takes writes. A probe runs every interval on a fresh connection of its
 * own: never one of the pool's, which may all be stuck in a black-holed COPY, and fresh so
 * that it meets what a reconnecting pool meets (a rotated password, too many connections,
 * a database switched read-only for new sessions). It asks whether the server is in
 * recovery or read-only, with a timeout of its own, so a server that silently drops packets
 * is noticed within `timeoutsToMarkDown` probes instead of whenever the kernel gives up.
 *
 * When probes get no answer, the pool's connections are closed (pool.ts dropConnections), so
 * batches stuck on them go to the spool now rather than after the query timeout; when it
 * comes back, its idle connections are replaced.
 *
 * A failed write marks it down at once. It comes back only when a probe finds it writable
 * and the hold-down has passed; the hold-down doubles while writes keep failing soon after
 * each recovery (a full disk answers SELECT but refuses COPY), so replay and new batches
 * back off instead of failing every second.
 */
/** Connections held by another thread: closed by message, so not counted. */
export interface ConnectionsElsewhere {
  dropConnections(busyForMs: number): void;
}

export class PostgresHealth {
  private up = true;
  private detail = 'writable';
  /** Whether the current down state was found by a probe (its detail is the cause; failed writes follow from it). */
  private downByProbe = false;
  private since = Date.now();
  private lastProbeMs: number | null = null;
  private timeoutsInARow = 0;
  private holdDownUntil = 0;
  private nextHoldDownMs: number;
  private recoveredAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  private stopped = false;
  private readonly options: PostgresHealthOptions;
  private readonly connection: pg.ClientConfig;
  /** The ingest pool, then the pools added by alsoCloses. */
  private readonly pools: (pg.Pool | ConnectionsElsewhere)[];

  /**
   * Probes with the connection settings of `pool` (its URL, TLS, password) and starts at
   * once; `stop()` ends it. `options` as a number is the probe interval.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly onChange: (up: boolean) => void,
    options: number | Partial<PostgresHealthOptions> = {},
  ) {
    this.options = { ...DEFAULT_POSTGRES_HEALTH_OPTIONS, ...(typeof options === 'number' ? { intervalMs: options } : options) };
    this.nextHoldDownMs = this.options.holdDownMs;
    const t = this.options.probeTimeoutMs;
    this.connection = { ...(pool.options as pg.ClientConfig), connectionTimeoutMillis: t, query_timeout: t, statement_timeout: t };
    this.pools = [pool];
    this.schedule();
  }

  /**
   * Pools on the same server (reads, webhooks, key lookups, the rollup folder thread's) whose
   * connections are closed with the ingest pool's. A query on a connection the server stopped
   * answering waits for its query timeout, holding whatever waits on it, a graceful stop included.
   */
  alsoCloses(pool: pg.Pool | ConnectionsElsewhere): void {
    this.pools.push(pool);
  }

  get isUp(): boolean {
    return this.up;
  }

  status(): PostgresStatus {
    return { up: this.up, detail: this.detail, since: this.since, lastProbeMs: this.lastProbeMs };
  }

  /** A write failed as `unavailable`: down now, and back no sooner than the hold-down. */
  markDown(err: Error): void {
    const now = Date.now();
    if (this.up && now - this.recoveredAt >= this.options.stableMs) this.nextHoldDownMs = this.options.holdDownMs;
    this.holdDownUntil = now + this.nextHoldDownMs;
    this.nextHoldDownMs = Math.min(this.nextHoldDownMs * 2, this.options.maxHoldDownMs);
    // Writes cut off because a probe found the server silent or read-only only repeat that cause.
    if (this.up || !this.downByProbe) this.setDown(`write failed: ${describeError(err)}`, false);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setDown(detail: string, byProbe: boolean): void {
    this.detail = detail;
    this.downByProbe = byProbe;
    if (!this.up) return;
    this.up = false;
    this.since = Date.now();
    this.log.warn({ detail }, 'PostgreSQL unavailable: acknowledging through the spool (or 503 without one) until it is back');
    this.onChange(false);
  }

  private setUp(): void {
    this.detail = 'writable';
    this.downByProbe = false;
    this.timeoutsInARow = 0;
    if (this.up) return;
    this.up = true;
    this.since = this.recoveredAt = Date.now();
    // Idle connections opened while it was down may lead to a server that was read-only or
    // demoted then; fresh ones meet the server the probe just found writable.
    const dropped = this.dropAll(Infinity);
    this.log.info({ closedIdleConnections: dropped.idle }, 'PostgreSQL is back');
    this.onChange(true);
  }

  private dropAll(busyForMs: number): { idle: number; busy: number } {
    const total = { idle: 0, busy: 0 };
    for (const pool of this.pools) {
      if (!(pool instanceof pg.Pool)) {
        pool.dropConnections(busyForMs);
        continue;
      }
      const dropped = dropConnections(pool, busyForMs);
      total.idle += dropped.idle;
      total.busy += dropped.busy;
    }
    return total;
  }

  private schedule(): void {
    if (this.stopped || this.timer !== null || this.probing) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runProbe();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async runProbe(): Promise<void> {
    this.probing = true;
    const started = performance.now();
    const result = await probe(this.connection, this.options.probeTimeoutMs);
    this.lastProbeMs = performance.now() - started;
    this.probing = false;
    if (this.stopped) return;
    if (result.ok) {
      this.timeoutsInARow = 0;
      const wait = this.holdDownUntil - Date.now();
      if (wait <= 0) this.setUp();
      else if (!this.up) this.detail = `${this.detail.replace(/ \(writable again.*$/, '')} (writable again; resuming in ${Math.ceil(wait)} ms)`;
    } else if (!result.timedOut) {
      this.timeoutsInARow = 0;
      this.setDown(result.detail, true);
    } else if (++this.timeoutsInARow >= this.options.timeoutsToMarkDown || !this.up) {
      this.setDown(result.detail, true);
      // The server does not answer: a COPY or COMMIT in flight longer than a probe would wait
      // for the query timeout, holding its requests. Cut off, its batch goes to the spool.
      const dropped = this.dropAll(this.options.probeTimeoutMs);
      if (dropped.busy + dropped.idle > 0) this.log.warn({ ...dropped }, 'PostgreSQL does not answer: its connections are closed');
    }
    this.schedule();
  }
}

/** One probe on a fresh connection, abandoned (socket destroyed) after `timeoutMs`. */
async function probe(config: pg.ClientConfig, timeoutMs: number): Promise<ProbeResult> {
  let socket: Socket | null = null;
  const client = new pg.Client({
    ...config,
    // The probe's own socket, so that a probe that gets no answer can be torn down at once:
    // ending the client politely would wait for a server that does not answer.
    stream: () => (socket = new Socket()),
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, timedOut: true, detail: `probe got no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const attempt = (async (): Promise<ProbeResult> => {
    try {
      await client.connect();
      const { rows } = await client.query<{ in_recovery: boolean; read_only: string }>(
        "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only",
      );
      const row = rows[0];
      if (row?.in_recovery === true) return { ok: false, timedOut: false, detail: 'read-only: the server is a standby (in recovery)' };
      if (row?.read_only === 'on') return { ok: false, timedOut: false, detail: 'read-only: new sessions are read-only (default_transaction_read_only)' };
      return { ok: true };
    } catch (err) {
      // The driver's own timeouts (connect, query read) carry no code; a server-side one does (57014).
      const timedOut = (err as { code?: unknown }).code === undefined && /timeout/i.test((err as Error).message);
      return { ok: false, timedOut, detail: describeError(err) };
    }
  })();
  const result = await Promise.race([attempt, deadline]);
  clearTimeout(timer);
  // A server that answered gets a proper goodbye (no "unexpected EOF" in its log every
  // second); one that did not answer would never acknowledge it.
  if (result.ok || !result.timedOut) await Promise.race([client.end().catch(() => undefined), sleep(timeoutMs)]);
  (socket as Socket | null)?.destroy();
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** An error as one line for people: its code (SQLSTATE or system) and message. */
function describeError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code} ${message}` : message;
}

/** One line of the readiness body: whether this part is fine, and why, for people. */
export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

/** The spool as readiness sees it; null when the receiver runs without one. */
export interface SpoolReadiness {
  /** An append found it full, and it has not drained enough since. */
  full: boolean;
  /** A write or sync failed (spool_failed): it takes nothing until the receiver restarts. */
  failed: boolean;
  records: number;
  bytes: number;
  maxBytes: number;
  /** appendedAt of the oldest record not yet replayed, or null. */
  oldestAppendedAt: number | null;
}

export interface ReadinessInputs {
  /** The receiver is shutting down: it takes nothing new. */
  stopping: boolean;
  postgres: PostgresHealth;
  /** The ingest pool (COPY, replay, upkeep). */
  pool: pg.Pool;
  spool: SpoolReadiness | null;
}

export interface Readiness {
  /** What GET /readyz answers: 200 when true, 503 otherwise. */
  ready: boolean;
  checks: {
    shutdown: ReadinessCheck;
    postgres: ReadinessCheck & { since: string };
    pool: ReadinessCheck & { total: number; idle: number; waiting: number; max: number };
    spool: ReadinessCheck & { records: number; bytes: number; maxBytes: number; oldestAgeMs: number | null };
  };
}

/**
 * Whether a 202 is honest now, and what each part says. The receiver is ready while it is
 * not stopping and either PostgreSQL takes writes (and the pool is not saturated with
 * batches waiting for a connection) or the spool can take them instead.
 */
export function readiness(inputs: ReadinessInputs, now = Date.now()): Readiness {
  const pg = inputs.postgres.status();
  const postgres = { ok: pg.up, detail: pg.detail, since: new Date(pg.since).toISOString() };

  const p = inputs.pool;
  const max = p.options.max ?? 10;
  const saturated = p.waitingCount > 0 && p.totalCount >= max && p.idleCount === 0;
  const pool = {
    ok: !saturated,
    detail: `${p.totalCount - p.idleCount} of ${max} connections in use, ${p.waitingCount} waiting${saturated ? ': every connection is busy' : ''}`,
    total: p.totalCount,
    idle: p.idleCount,
    waiting: p.waitingCount,
    max,
  };

  const s = inputs.spool;
  const spool =
    s === null
      ? { ok: false, detail: 'disabled (SPOOL_MAX_BYTES=0): nothing is acknowledged while PostgreSQL is down', records: 0, bytes: 0, maxBytes: 0, oldestAgeMs: null }
      : {
          ok: !s.full && !s.failed,
          detail: s.failed
            ? 'failed: a write or sync failed; it takes nothing until the receiver restarts'
            : s.full
              ? 'full: it takes nothing until replay has drained a tenth of it'
              : s.records > 0
                ? `${s.records} batches waiting for PostgreSQL`
                : 'empty',
          records: s.records,
          bytes: s.bytes,
          maxBytes: s.maxBytes,
          oldestAgeMs: s.oldestAppendedAt === null ? null : Math.max(0, now - s.oldestAppendedAt),
        };

  const shutdown = { ok: !inputs.stopping, detail: inputs.stopping ? 'stopping: no new requests are taken' : 'running' };
  const ready = shutdown.ok && ((postgres.ok && pool.ok) || spool.ok);
  return { ready, checks: { shutdown, postgres, pool, spool } };
}
