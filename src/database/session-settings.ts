import type pg from 'pg';

/**
 * The limits every connection the receiver opens works under. Without them a failover that
 * silently drops packets hangs a COPY or COMMIT for as long as the kernel retransmits
 * (about 15 minutes on Linux), and the requests of that batch hold their ring space meanwhile.
 */
export interface PgSessionSettings {
  /**
   * Server-side `statement_timeout`. 30 s: the largest COPY batch (COPY_BATCH_ROWS = 20,000
   * rows) takes about half a second at the measured ~44,000 rows/s, so a statement running
   * 60 times longer waits on a lock or a dying server; PostgreSQL cancels it (57014) and the
   * batch goes to the spool. 0 turns it off.
   */
  readonly statementTimeoutMs: number;
  /**
   * Client-side `query_timeout`: how long the driver waits for any answer. It is what frees a
   * COMMIT sent to a black-holed server, where no cancel and no reset ever arrives. Longer
   * than the statement timeout, so a merely slow statement is cancelled by PostgreSQL first
   * (which leaves the connection usable). The connection is discarded after it fires.
   */
  readonly queryTimeoutMs: number;
  /**
   * Server-side `idle_in_transaction_session_timeout`. 60 s: inside a transaction the receiver
   * waits only on PostgreSQL itself, so a session idle that long belongs to a receiver that is
   * frozen or cut off, and its row locks hold up every other COPY of the same keys.
   */
  readonly idleInTransactionTimeoutMs: number;
  /**
   * TCP connect, TLS and authentication, and (in a pool) the wait for a free connection.
   * 5 s: all of it takes milliseconds on a working network; past that the batch is better
   * spooled than kept waiting.
   */
  readonly connectTimeoutMs: number;
  /**
   * TCP keepalive on every socket, first probe after 10 s idle (the kernel default is two
   * hours), so an idle pooled connection to a server that vanished without a reset is found
   * dead instead of being handed to the next batch. Probe interval and count are the kernel's.
   */
  readonly keepAliveInitialDelayMs: number;
  /**
   * `lock_timeout` of partition DDL (creating and attaching a month's partition). 5 s: the
   * DDL's lock request queues every COPY behind it while it waits; upkeep runs again within
   * the hour, so giving up costs nothing.
   */
  readonly ddlLockTimeoutMs: number;
  /**
   * `statement_timeout` of partition DDL, which moves rows out of the default partition and
   * can take longer than a COPY. 10 minutes.
   */
  readonly ddlStatementTimeoutMs: number;
}

export const DEFAULT_PG_SESSION_SETTINGS: PgSessionSettings = Object.freeze({
  statementTimeoutMs: 30_000,
  queryTimeoutMs: 35_000,
  idleInTransactionTimeoutMs: 60_000,
  connectTimeoutMs: 5_000,
  keepAliveInitialDelayMs: 10_000,
  ddlLockTimeoutMs: 5_000,
  ddlStatementTimeoutMs: 600_000,
});

/** Shown in pg_stat_activity, so an operator (or a test) can tell the receiver's sessions apart. */
export const APPLICATION_NAME = 'machpay-receiver';

/**
 * `synchronous_commit = on`, set explicitly: a 202 is sent after COMMIT returns, and a
 * database or role default of `off` (or `local`) would let that commit be lost in a crash or
 * a failover. It travels in the startup packet, so it costs no round trip. An `options`
 * parameter in the URL is appended after it, so an operator's own `-c` settings still apply.
 */
const SESSION_OPTIONS = '-c synchronous_commit=on';

/** Settings with `overrides` on top of the defaults; throws on a negative or non-integer value. */
export function sessionSettings(overrides: Partial<PgSessionSettings> = {}): PgSessionSettings {
  const merged = { ...DEFAULT_PG_SESSION_SETTINGS, ...overrides };
  for (const [key, value] of Object.entries(merged)) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`PostgreSQL session setting ${key} must be a non-negative integer (ms), got ${String(value)}`);
  }
  if (merged.statementTimeoutMs > 0 && merged.queryTimeoutMs > 0 && merged.queryTimeoutMs <= merged.statementTimeoutMs) {
    throw new RangeError('PostgreSQL queryTimeoutMs must exceed statementTimeoutMs, so that the server cancels a slow statement first');
  }
  return Object.freeze(merged);
}

/**
 * The driver configuration of one connection (or a pool's connections). `limits: false`
 * leaves out the statement, idle-in-transaction and query timeouts: schema migrations and
 * operator commands may legitimately run for minutes.
 */
export function connectionConfig(url: string, settings: PgSessionSettings, limits = true): pg.ClientConfig {
  const { connectionString, extraOptions } = splitOptions(url);
  const config: pg.ClientConfig = {
    connectionString,
    application_name: APPLICATION_NAME,
    options: extraOptions === null ? SESSION_OPTIONS : `${SESSION_OPTIONS} ${extraOptions}`,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: settings.keepAliveInitialDelayMs,
  };
  if (limits) {
    // 0 is "no limit" to PostgreSQL but "unset" to the driver: leave a 0 out.
    if (settings.statementTimeoutMs > 0) config.statement_timeout = settings.statementTimeoutMs;
    if (settings.idleInTransactionTimeoutMs > 0) config.idle_in_transaction_session_timeout = settings.idleInTransactionTimeoutMs;
    if (settings.queryTimeoutMs > 0) config.query_timeout = settings.queryTimeoutMs;
  }
  return config;
}

/**
 * The driver lets parameters in the URL replace those it is given, so an `options` in the
 * URL would silently drop `synchronous_commit`: it is taken out and appended instead.
 */
function splitOptions(url: string): { connectionString: string; extraOptions: string | null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, extraOptions: null };
  }
  const extra = parsed.searchParams.get('options');
  if (extra === null) return { connectionString: url, extraOptions: null };
  parsed.searchParams.delete('options');
  return { connectionString: parsed.toString(), extraOptions: extra };
}
