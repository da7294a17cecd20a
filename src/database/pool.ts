import pg from 'pg';
import type { Logger } from '../logger.js';
import { connectionConfig, DEFAULT_PG_SESSION_SETTINGS, type PgSessionSettings } from './session-settings.js';

// BIGINT and TIMESTAMPTZ come back as text: int64 values must never pass through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/**
 * The receiver's connections: COPY batches (the sink adds TEMP staging tables to each), replay,
 * rollups and upkeep. Every connection carries the session limits of `settings`
 * (session-settings.ts): statement, idle-in-transaction and client-side query timeouts,
 * keepalive, a connect timeout, and `synchronous_commit = on`.
 */
export function createPool(url: string, size: number, log: Logger, settings: PgSessionSettings = DEFAULT_PG_SESSION_SETTINGS): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(url, settings), max: size, idleTimeoutMillis: 0 });
  const tracked: Tracked = { all: new Set(), busySince: new Map() };
  trackedPools.set(pool, tracked);
  pool.on('acquire', (client) => tracked.busySince.set(client, performance.now()));
  pool.on('release', (_err, client) => {
    tracked.busySince.delete(client);
    // Marked by dropConnections while in use: closed now that it is back (the pool removes it).
    if (retireOnRelease.has(client)) destroySocket(client);
  });
  pool.on('remove', (client) => {
    tracked.all.delete(client);
    tracked.busySince.delete(client);
  });
  pool.on('connect', (client) => {
    tracked.all.add(client);
    // The pool guards only idle clients. A checked-out one that PostgreSQL drops between two
    // queries emits 'error' with nobody listening, which would end the process; the failure
    // reaches the sink through its next query instead.
    client.on('error', (err) => log.debug({ err: err.message }, 'PostgreSQL connection failed while in use'));
  });
  // An idle connection that drops must not crash the process; the next batch reconnects.
  pool.on('error', (err, client) => {
    if (dropped.has(client)) return; // closed on purpose by dropConnections
    log.warn({ err: err.message }, 'idle PostgreSQL connection failed');
  });
  return pool;
}

interface Tracked {
  all: Set<pg.PoolClient>;
  /** Checked-out connections and when they were taken (performance.now()). */
  busySince: Map<pg.PoolClient, number>;
}

const trackedPools = new WeakMap<pg.Pool, Tracked>();
/** Connections dropConnections closed: their errors are expected. */
const dropped = new WeakSet<pg.PoolClient>();
/** Connections in use when dropConnections ran, closed when they are released. */
const retireOnRelease = new WeakSet<pg.PoolClient>();

function destroySocket(client: pg.PoolClient): boolean {
  // The driver has no public way to abort a connection; its own query timeout does the same.
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  if (stream === undefined) return false;
  dropped.add(client);
  stream.destroy();
  return true;
}

/**
 * Closes connections of a pool made by createPool by destroying their sockets: every idle
 * one, and the checked-out ones taken more than `busyForMs` ago; the other checked-out ones
 * are closed when they are released, never reused. A query in
 * flight on one fails at once as a broken connection (`unavailable`), and the pool replaces
 * what it lost on demand. Used when PostgreSQL stops answering (a COMMIT on a black-holed
 * connection would otherwise wait for the query timeout, holding its requests) and when it
 * comes back (connections opened meanwhile may lead to a read-only server or an old primary).
 * A COMMIT cut off this way may have committed: its batch goes to the spool, and replay
 * stores nothing twice. Returns how many of each were closed.
 */
export function dropConnections(pool: pg.Pool, busyForMs: number): { idle: number; busy: number } {
  const tracked = trackedPools.get(pool);
  const closed = { idle: 0, busy: 0 };
  if (tracked === undefined) return closed;
  const now = performance.now();
  for (const client of [...tracked.all]) {
    const since = tracked.busySince.get(client);
    if (since !== undefined && now - since <= busyForMs) {
      retireOnRelease.add(client);
      continue;
    }
    if (!destroySocket(client)) continue;
    tracked.all.delete(client);
    if (since === undefined) closed.idle++;
    else closed.busy++;
  }
  return closed;
}

/**
 * Ends a pool made by createPool within `timeoutMs`. `pool.end()` waits for every checked-out
 * connection to come back, and one waiting on a server that stopped answering (a black hole)
 * comes back only at its query timeout; past the deadline every connection's socket is
 * destroyed instead, so a query still in flight fails as a broken connection and nothing
 * holds the process. Resolves true if the pool ended on its own.
 */
export async function endPool(pool: pg.Pool, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ended = pool.end().then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  const onTime = await Promise.race([ended, late]);
  clearTimeout(timer);
  if (!onTime) dropConnections(pool, -1);
  return onTime;
}

/**
 * One short-lived client for start-up work, CLI commands, tests and benchmarks; always closed.
 * It has the connect timeout, keepalive and `synchronous_commit` of every connection, but no
 * statement or query timeout: migrations and operator commands may run for minutes.
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, connectTimeoutMs = DEFAULT_PG_SESSION_SETTINGS.connectTimeoutMs): Promise<T> {
  const client = new pg.Client(connectionConfig(url, { ...DEFAULT_PG_SESSION_SETTINGS, connectTimeoutMs }, false));
  // An error after connect (the server went away between queries) reaches `fn` through its
  // next query; without a listener it would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
