import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ConfigError } from '../config-error.js';
import { checkClusterName, createDatabaseStatement, schemaStatements, serverFeatures, type ClickhouseLayout, type SchemaStatement } from './clickhouse-ddl.js';
import { applySchemaStatements } from './clickhouse-schema-apply.js';

/** The DDL folder: two levels up from src/rollups, three from dist/src/rollups. */
export const CLICKHOUSE_SCHEMA_DIR =
  [new URL('../../schema/clickhouse/', import.meta.url), new URL('../../../schema/clickhouse/', import.meta.url)].find((u) => existsSync(u)) ??
  new URL('../../schema/clickhouse/', import.meta.url);

export const ROLLUP_TABLE = 'rollup_minute';
/** Rows ClickHouse refused, parked by the outbox sender (schema/clickhouse/002_rollup_minute_rejected.sql). */
export const REJECTED_TABLE = 'rollup_minute_rejected';

/** One parked row: the row as the outbox held it, and why ClickHouse refused it. */
export interface RejectedRow {
  row_id: string;
  row_json: string;
  error_code: string;
  error: string;
  outbox_id: string;
  rejected_at: string;
}

/** Expected outcomes are values: what the writer does next depends only on `kind`. */
export type ClickhouseOutcome = { ok: true } | { ok: false; kind: ClickhouseFailure; error: Error };
/**
 * retry: later, same rows (the network, or a server error known to pass). schema: the table or
 * database is gone; apply the DDL, then retry. permanent: these rows can never be inserted.
 * suspect: the server refused the insert with an error not known either way; the rows may be
 * at fault, which only repeated failures and inserting them apart can tell.
 */
export type ClickhouseFailure = 'retry' | 'schema' | 'permanent' | 'suspect';

/** Server error codes that mean the rows or the statement are wrong, so retrying cannot help. */
const PERMANENT_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '8', // THERE_IS_NO_COLUMN
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '44', // ILLEGAL_COLUMN
  '47', // UNKNOWN_IDENTIFIER
  '53', // TYPE_MISMATCH
  '62', // SYNTAX_ERROR
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
  '349', // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  '691', // UNKNOWN_ELEMENT_OF_ENUM
]);
/** Server error codes that pass with time or an operator's fix, whatever the rows hold: never the rows' fault. */
const TRANSIENT_CODES = new Set([
  '159', // TIMEOUT_EXCEEDED
  '164', // READONLY
  '192', // UNKNOWN_USER
  '193', // WRONG_PASSWORD
  '194', // REQUIRED_PASSWORD
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '203', // NO_FREE_CONNECTION
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  '225', // NO_ZOOKEEPER
  '236', // ABORTED
  '241', // MEMORY_LIMIT_EXCEEDED
  '242', // TABLE_IS_READ_ONLY
  '252', // TOO_MANY_PARTS
  '279', // ALL_CONNECTION_TRIES_FAILED (a shard of the cluster is down)
  '319', // UNKNOWN_STATUS_OF_INSERT
  '394', // QUERY_WAS_CANCELLED
  '425', // SYSTEM_ERROR
  '497', // ACCESS_DENIED
  '516', // AUTHENTICATION_FAILED
  '999', // KEEPER_EXCEPTION
]);
const SCHEMA_CODES = new Set([
  '16', // NO_SUCH_COLUMN_IN_TABLE
  '60', // UNKNOWN_TABLE
  '81', // UNKNOWN_DATABASE
]);
/**
 * A table without a column the rows carry (recreated from an older schema, say) refuses them
 * as INCORRECT_DATA with this message: the table's fault, not the rows'. Both 18.16 and
 * current releases word it so.
 */
const UNKNOWN_FIELD = /Unknown field found while parsing JSONEachRow format/;

/**
 * The one place that decides what a ClickHouse failure means. No server code (the network,
 * a timeout) and codes known to pass are retried; an unknown server code is suspect, which the
 * outbox sender retries a few times before it looks for a row at fault. A wrong "permanent"
 * or "suspect" does not lose rows: they are parked in rollup_minute_rejected, not dropped.
 */
export function classifyClickhouseError(err: unknown): ClickhouseFailure {
  const code = serverErrorCode(err);
  if (code === null || TRANSIENT_CODES.has(code)) return 'retry';
  if (SCHEMA_CODES.has(code) || (code === '117' && UNKNOWN_FIELD.test((err as Error).message))) return 'schema';
  if (PERMANENT_CODES.has(code)) return 'permanent';
  return 'suspect';
}

/**
 * The server's error code. @clickhouse/client parses it into ClickHouseError only from the
 * current message format (`Code: 60. DB::Exception: …`); 18.16 writes
 * `Code: 60, e.displayText() = DB::Exception: …`, which reaches us as a plain Error.
 */
export function serverErrorCode(err: unknown): string | null {
  if (err instanceof ClickHouseError) return err.code;
  if (!(err instanceof Error)) return null;
  const m = /^Code: (\d+)[.,]/.exec(err.message);
  return m === null ? null : (m[1] as string);
}

/**
 * Every insert's settings. Current releases skip a field the table has no column for by
 * default (26.x does; 18.16 refuses it): a table recreated from an older schema would silently
 * lose those figures. Refused instead, the rows stay in the outbox while the columns are added.
 */
export const INSERT_SETTINGS = { input_format_skip_unknown_fields: 0 } as const;
/** A Distributed table otherwise queues the rows on this node and sends them to the shards later: the outbox may delete its rows only once the shards hold them. */
const CLUSTER_INSERT_SETTINGS = { insert_distributed_sync: 1 } as const;

/** The client's own logger writes plain text to the console; every failure reaches us as an error and is logged (through pino, once per outage) by the writer. */
const QUIET = { level: ClickHouseLogLevel.OFF };

const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface ClickhouseTarget {
  /** The URL without a database path (credentials and query parameters kept). */
  serverUrl: string;
  database: string;
  /** host:port, safe to log (no credentials). */
  display: string;
}

/** Splits CLICKHOUSE_URL into the server and the database (its path, as @clickhouse/client reads it). */
export function parseClickhouseUrl(url: string, defaultDatabase: string): ClickhouseTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('CLICKHOUSE_URL', 'is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('CLICKHOUSE_URL', `must be http or https, got ${u.protocol}`);
  const path = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  const database = path === '' ? defaultDatabase : path;
  // The name is written into DDL between backquotes: keep it to plain identifiers.
  if (!DATABASE_NAME.test(database)) throw new ConfigError('CLICKHOUSE_URL', `database name ${JSON.stringify(database)} must match ${DATABASE_NAME.source}`);
  u.pathname = '/';
  return { serverUrl: u.toString().replace(/\/$/, ''), database, display: u.host };
}

/** The statements of schema/clickhouse, in file order; one statement per `;`-terminated block. */
export async function loadClickhouseDdl(dir: URL = CLICKHOUSE_SCHEMA_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  const statements: string[] = [];
  for (const f of files) {
    const text = await readFile(new URL(f, dir), 'utf8');
    const withoutComments = text
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('--'))
      .join('\n');
    for (const s of withoutComments.split(/;\s*(?:\n|$)/)) if (s.trim() !== '') statements.push(s.trim());
  }
  return statements;
}

/**
 * The rollup table in ClickHouse: applies the DDL and inserts rows with JSONEachRow. It makes
 * one attempt per call; retrying, backoff and bounds belong to ClickhouseOutboxSender.
 */
export class ClickhouseRollupSink {
  readonly target: ClickhouseTarget;
  /** Server version, known after the first successful ensureSchema(). */
  version: string | null = null;
  readonly layout: ClickhouseLayout;
  private readonly client: ClickHouseClient;
  private ddl: SchemaStatement[] | null = null;

  constructor(
    url: string,
    defaultDatabase: string,
    private readonly requestTimeoutMs: number,
    layout: { cluster?: string | null; replicated?: boolean; retentionDays?: number } = {},
  ) {
    this.target = parseClickhouseUrl(url, defaultDatabase);
    this.layout = {
      database: this.target.database,
      cluster: checkClusterName(layout.cluster ?? null),
      replicated: layout.replicated ?? false,
      retentionDays: layout.retentionDays ?? 0,
    };
    this.client = createClient({
      url: this.target.serverUrl,
      database: this.target.database,
      request_timeout: requestTimeoutMs,
      application: 'machpay-receiver-rollups',
      log: QUIET,
    });
  }

  /**
   * CREATE DATABASE, every table of schema/clickhouse (IF NOT EXISTS, on the cluster when there
   * is one) in the form this server's version takes, and the columns later files add that a
   * table lacks; safe to repeat.
   */
  async ensureSchema(): Promise<ClickhouseOutcome> {
    try {
      const files = await loadClickhouseDdl();
      // The main client names the database in every request, which fails while it does not
      // exist: create it through a client bound to none.
      const admin = createClient({ url: this.target.serverUrl, request_timeout: this.requestTimeoutMs, log: QUIET });
      try {
        const rs = await admin.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
        const rows = await rs.json<{ v: string }>();
        this.version = rows[0]?.v ?? '0';
        this.ddl = schemaStatements(files, this.layout, serverFeatures(this.version));
        await admin.command({ query: createDatabaseStatement(this.layout) });
      } finally {
        await admin.close();
      }
      await applySchemaStatements(this.client, this.layout.database, this.ddl);
      return { ok: true };
    } catch (err) {
      return { ok: false, kind: classifyClickhouseError(err), error: asError(err) };
    }
  }

  async insert(rows: readonly unknown[]): Promise<ClickhouseOutcome> {
    return this.insertInto(ROLLUP_TABLE, rows);
  }

  /** Parks rows ClickHouse refused in rollup_minute_rejected. */
  async park(rows: readonly RejectedRow[]): Promise<ClickhouseOutcome> {
    return this.insertInto(REJECTED_TABLE, rows);
  }

  /** The statements ensureSchema() ran last (null before it succeeded once). */
  get appliedDdl(): readonly SchemaStatement[] | null {
    return this.ddl;
  }

  private async insertInto(table: string, rows: readonly unknown[]): Promise<ClickhouseOutcome> {
    try {
      await this.client.insert({
        table,
        values: rows as unknown[],
        format: 'JSONEachRow',
        clickhouse_settings: this.layout.cluster === null ? INSERT_SETTINGS : { ...INSERT_SETTINGS, ...CLUSTER_INSERT_SETTINGS },
      });
      return { ok: true };
    } catch (err) {
      return { ok: false, kind: classifyClickhouseError(err), error: asError(err) };
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
