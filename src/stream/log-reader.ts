import pg from 'pg';
import { comparePositions, type LogPosition } from './log-position.js';
import type { StreamSource } from './stream-sources.js';

/** One committed row, placed in the log. */
export interface LogRow {
  position: LogPosition;
  source: StreamSource;
  agentId: string;
  /** The tenant whose keys stream the row (the source's `tenant`; null: none). */
  tenantId: string | null;
  /** The event's data, JSON text. */
  data: string;
}

export interface LiveRead {
  rows: LogRow[];
  /** Every row of a transaction below this id has now been read; the next read starts here. */
  next: bigint;
  /** The snapshot's xmin: the horizon below which every transaction has ended. */
  horizon: bigint;
  /** The snapshot's xmax: the next transaction id to be assigned (horizon..newest are still open or just ended). */
  newest: bigint;
}

/**
 * How every read of the log is planned (see readLive), and times printed in UTC (the sources
 * read `time::text`, far cheaper than to_char), for the rest of the read's transaction.
 */
export const READ_SETTINGS = "SET LOCAL enable_seqscan = off; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL TimeZone = 'UTC';";
/**
 * The live read's: one generic plan of its prepared statements serves every read (a custom
 * plan would be made anew each time). A generic plan knows nothing of how many rows a read
 * brings and guessed few; it then sorted them all by agent to merge them with the agents.
 * Each row's agent is looked up by its key instead, whatever the read's size.
 */
export const LIVE_READ_SETTINGS = `${READ_SETTINGS} SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_mergejoin = off; SET LOCAL enable_hashjoin = off;`;

/** A row as the live read returns it (rowMode 'array'): source, xid, ordinal, tenant, agent_id, then the source's columns. */
type LiveRow = [string, string, string, string | null, string, ...(string | null)[]];
const LIVE_VALUES = 5;
/** The live read's row of the snapshot: its marker where a source's number is, then horizon and newest. */
const SNAPSHOT_ROW = 'snapshot';
/** A row as a catch-up returns it: xid, ordinal, tenant, agent_id, then the source's columns. */
type RangeRow = (string | null)[];
const RANGE_VALUES = 4;

/** Whose rows a live read returns: the agents and tenants someone subscribes to on this receiver. */
export interface Wanted {
  agents: readonly string[];
  tenants: readonly string[];
}

/**
 * One source's rows of the transactions in [$1, $2) whose agent or tenant is wanted,
 * each with its ordinal among all of its transaction's rows (so an event's id is the same
 * whoever reads it). The bounds on stream_xid are what lets PostgreSQL use the partial index
 * of schema 013 (a comparison is never true for NULL, so it implies `stream_xid IS NOT NULL`).
 * The row's values are made text only for the rows returned.
 */
export function liveSourceSql(s: StreamSource, wanted: string): string {
  return `SELECT '${s.number}' AS source, r.stream_xid::text AS xid, r.ord::text, r.tenant, r.agent_id, ${s.columns}
      FROM (
        SELECT r.*, ${s.tenant ?? 'a.tenant_id'} AS tenant, row_number() OVER (PARTITION BY r.stream_xid ORDER BY ${s.keyOrder}) - 1 AS ord
        FROM ${s.table} r LEFT JOIN agents a ON a.pubkey = r.agent_id
        WHERE r.stream_xid >= $1 AND r.stream_xid < $2
      ) r
      WHERE ${wanted}`;
}

/** The SQL condition on a live read's row (`r.agent_id`, `r.tenant`) that it is wanted. */
export function wantedSql(client: pg.ClientBase, w: Wanted): string {
  const list = (values: readonly string[]): string => `ARRAY[${values.map((v) => client.escapeLiteral(v)).join(',')}]::text[]`;
  if (w.agents.length === 0 && w.tenants.length === 0) return 'false';
  return `(r.agent_id = ANY(${list(w.agents)}) OR r.tenant = ANY(${list(w.tenants)}))`;
}

/**
 * One source's rows of the transactions in [$1, $2) that pass `where` (over the columns xid,
 * ord, tenant, agent_id), with each row's ordinal among all of its transaction's rows.
 */
export function rangeSourceSql(s: StreamSource, where: string): string {
  return `SELECT * FROM (
         SELECT r.stream_xid::text AS xid, (row_number() OVER (PARTITION BY r.stream_xid ORDER BY ${s.keyOrder}) - 1)::text AS ord,
                ${s.tenant ?? 'a.tenant_id'} AS tenant, r.agent_id, ${s.columns}
         FROM ${s.table} r LEFT JOIN agents a ON a.pubkey = r.agent_id
         WHERE r.stream_xid >= $1::bigint AND r.stream_xid < $2::bigint
       ) s WHERE ${where}
       ORDER BY s.xid::bigint, s.ord::int`;
}

/** The live read's statements prepared on one connection, for one wanted set and list of sources. */
interface PreparedLiveRead {
  wanted: Wanted;
  sources: readonly StreamSource[];
  names: string[];
}

/**
 * Per connection (pg reuses a Client object for one connection): the statements prepared
 * for the live read. A wanted set changes when someone subscribes to a new agent or tenant,
 * while a receiver reads the log many times a second: parsing and planning each source's
 * statement with its list of wanted ids cost PostgreSQL about 2 ms per source and read with
 * 1000 ids, most of what a read of a few hundred rows cost. Prepared once, a read only
 * executes them.
 */
const preparedLiveReads = new WeakMap<pg.ClientBase, PreparedLiveRead>();
/** Numbers the statements' names: never reused on a connection, whatever was left on it. */
let preparedSeq = 0;

/**
 * The SQL that (re)prepares the live read's statements on `client` for `wanted` (empty when
 * they are ready), and their names. Statements of an earlier wanted set are deallocated.
 */
function prepareLiveRead(client: pg.ClientBase, sources: readonly StreamSource[], wanted: Wanted): { sql: string; names: string[] } {
  const ready = preparedLiveReads.get(client);
  if (ready !== undefined && ready.wanted === wanted && sameSources(ready.sources, sources)) return { sql: '', names: ready.names };
  const seq = ++preparedSeq;
  const names = sources.map((s) => `stream_live_${seq}_${s.number}`);
  const where = wantedSql(client, wanted);
  let sql = ready === undefined ? '' : deallocateSql(ready.names);
  sources.forEach((s, i) => (sql += `PREPARE ${names[i] as string}(bigint, bigint) AS ${liveSourceSql(s, where)};`));
  // Known only once the batch has run: a failed one leaves the connection's state unknown.
  preparedLiveReads.delete(client);
  return { sql, names };
}

/**
 * Hands a connection that served live reads back to its pool without the statements
 * prepared on it (PostgreSQL keeps each for the session, with its plan: tens of KB with many
 * watched ids). A connection that cannot drop them is closed instead.
 */
export async function releaseLiveReader(client: pg.PoolClient): Promise<void> {
  const ready = preparedLiveReads.get(client);
  preparedLiveReads.delete(client);
  if (ready === undefined) return client.release();
  try {
    await client.query(deallocateSql(ready.names));
  } catch {
    return client.release(true);
  }
  client.release();
}

function deallocateSql(names: readonly string[]): string {
  return names.map((n) => `DEALLOCATE ${n};`).join('');
}

function sameSources(a: readonly StreamSource[], b: readonly StreamSource[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/**
 * Reads the wanted rows of transactions in [from, min(horizon, from + maxXids)), where
 * horizon is the xmin of the read's own snapshot: every transaction below it has ended, so
 * those rows are final and none can appear later. One round trip: the statements run in one
 * REPEATABLE READ transaction so the horizon and the rows come from the same snapshot.
 * `from` and the bound are bigints this module computed, never client input. The statements
 * are prepared on the connection for this `wanted` (the same object: Subscriptions keeps one
 * per set) and executed with a plan made once.
 */
export async function readLive(client: pg.ClientBase, sources: readonly StreamSource[], from: bigint, maxXids: number, wanted: Wanted): Promise<LiveRead> {
  const horizonSql = 'pg_snapshot_xmin(pg_current_snapshot())::text::bigint';
  const cap = from + BigInt(maxXids);
  const prepared = prepareLiveRead(client, sources, wanted);
  // The planner has no statistics for the newest transaction ids and may guess that a scan of
  // the whole table is cheaper than the index: it never is for the log's tail. Nor is a
  // parallel plan: starting workers for each read of a few thousand rows costs more than it saves.
  let sql = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${LIVE_READ_SETTINGS}
    ${prepared.sql}
    SELECT '${SNAPSHOT_ROW}', ${horizonSql}::text AS horizon, pg_snapshot_xmax(pg_current_snapshot())::text AS newest;`;
  for (const name of prepared.names) sql += `
EXECUTE ${name}(${from}, LEAST(${cap}, ${horizonSql}));`;
  sql += 'COMMIT;';
  const bySource = new Map(sources.map((s) => [String(s.number), s]));
  let snapshot: LiveRow | undefined;
  const rows: LogRow[] = [];
  await eachRow<LiveRow>(client, sql, (r) => {
    if (r[0] === SNAPSHOT_ROW) {
      snapshot = r;
      return;
    }
    const s = bySource.get(r[0]) as StreamSource;
    const position = { xid: BigInt(r[1]), source: s.number, ordinal: Number(r[2]) };
    rows.push({ position, source: s, agentId: r[4], tenantId: r[3], data: flat(s.data(r[4], r.slice(LIVE_VALUES))) });
  });
  preparedLiveReads.set(client, { wanted, sources, names: prepared.names });
  const horizon = BigInt((snapshot as LiveRow)[1]);
  rows.sort((a, b) => comparePositions(a.position, b.position));
  return { rows, next: horizon < cap ? horizon : cap, horizon, newest: BigInt((snapshot as LiveRow)[2]) };
}

/**
 * The same text as one flat string. A string built from parts (a template, `+`) is a tree
 * that keeps every part alive until it is read as a whole; reading one character makes V8
 * copy it flat and drop the parts, so a row kept until its frame is written holds one string
 * of its JSON instead of the dozens of values it was made of.
 */
function flat(text: string): string {
  text.charCodeAt(0);
  return text;
}

/**
 * Runs a (multi-statement) simple query and hands each row to `onRow` as it arrives, as an
 * array of the texts PostgreSQL sent. Rows are not gathered into a result: a read of
 * thousands of rows would keep every value alive until its end, and the garbage collector's
 * work on them cost more than the read.
 */
function eachRow<R>(client: pg.ClientBase, text: string, onRow: (row: R) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // rowMode is a run-time option of pg.Query that its type declarations leave out.
    const config: pg.QueryArrayConfig = { text, rowMode: 'array' };
    const query = new pg.Query(config as pg.QueryConfig);
    query.on('row', (row) => onRow(row as R));
    query.on('error', reject);
    query.on('end', () => resolve());
    void client.query(query);
  });
}

/** Whose rows a catch-up reads: one agent's, or those of the agents linked to a tenant. */
export type RowFilter = { agentId: string; tenantId: string | null } | { tenantId: string };

/**
 * The rows of one subscriber's topic in [after, before): what it missed since its last
 * event id. Ordinals are numbered over all of a transaction's rows before the topic's
 * filter, exactly as the live read numbers them. Only transactions below `before` (which
 * the caller took from an earlier horizon) are read, so every one of them has ended.
 */
export async function readRange(
  client: pg.ClientBase,
  sources: readonly StreamSource[],
  after: LogPosition,
  before: bigint,
  filter: RowFilter,
): Promise<LogRow[]> {
  const rows: LogRow[] = [];
  const byAgent = 'agentId' in filter;
  await client.query(`BEGIN READ ONLY; ${READ_SETTINGS}`);
  try {
    await readRangeRows(client, sources, after, before, filter, byAgent, rows);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  rows.sort((a, b) => comparePositions(a.position, b.position));
  return rows;
}

async function readRangeRows(
  client: pg.ClientBase,
  sources: readonly StreamSource[],
  after: LogPosition,
  before: bigint,
  filter: RowFilter,
  byAgent: boolean,
  rows: LogRow[],
): Promise<void> {
  for (const s of sources) {
    const params: unknown[] = [after.xid.toString(), before.toString()];
    let where: string;
    if (byAgent && 'agentId' in filter) {
      params.push(filter.agentId);
      where = 's.agent_id = $3';
      if (filter.tenantId !== null) {
        params.push(filter.tenantId);
        where += ' AND s.tenant = $4';
      }
    } else {
      params.push(filter.tenantId);
      where = 's.tenant = $3';
    }
    const { rows: found } = await client.query<RangeRow>({ text: rangeSourceSql(s, where), values: params, rowMode: 'array' });
    for (const r of found) {
      const position = { xid: BigInt(r[0] as string), source: s.number, ordinal: Number(r[1]) };
      if (comparePositions(position, after) <= 0) continue;
      const agentId = r[3] as string;
      rows.push({ position, source: s, agentId, tenantId: r[2] ?? null, data: s.data(agentId, r.slice(RANGE_VALUES)) });
    }
  }
}

/**
 * Summarises the block ranges of the stream's BRIN indexes that have none yet (on every
 * partition). Rows arrive at the end of the heap in transaction order, so a summarised range
 * is skipped by a read of the newest ids; an unsummarised one is always scanned. Autovacuum
 * summarises too, but only on its own schedule (a minute apart by default): the reader does
 * it while anyone subscribes, so each read scans only the last few ranges. Skipped when a
 * lock is not free at once (a VACUUM of the table holds one).
 */
export async function summarizeNewRanges(client: pg.ClientBase): Promise<void> {
  await client.query(`BEGIN; SET LOCAL lock_timeout = '50ms';
    SELECT brin_summarize_new_values(c.oid)
    FROM pg_class c
    JOIN pg_am am ON am.oid = c.relam AND am.amname = 'brin'
    JOIN pg_index i ON i.indexrelid = c.oid
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] AND a.attname = 'stream_xid'
    WHERE c.relkind = 'i';
    COMMIT;`).catch(async (err: unknown) => {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  });
}

/**
 * A snapshot's committed set: transactions below xmax and not in xip had ended when it was
 * taken. A stream opened without an id skips their rows, so it shows only what commits after
 * it opens, even when an older transaction (an ANALYZE, a slow batch) holds the horizon back.
 */
export interface OpeningSnapshot {
  xmin: bigint;
  xmax: bigint;
  running: ReadonlySet<bigint>;
}

export async function readOpeningSnapshot(client: pg.ClientBase | pg.Pool): Promise<OpeningSnapshot> {
  const { rows } = await client.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s');
  const [xmin, xmax, xip] = (rows[0] as { s: string }).s.split(':') as [string, string, string];
  return { xmin: BigInt(xmin), xmax: BigInt(xmax), running: new Set(xip === '' ? [] : xip.split(',').map(BigInt)) };
}

/** The current horizon alone: where a stream with no history starts. */
export async function readHorizon(client: pg.ClientBase | pg.Pool): Promise<bigint> {
  const { rows } = await client.query<{ h: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS h');
  return BigInt((rows[0] as { h: string }).h);
}
