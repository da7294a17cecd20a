import type pg from 'pg';
import { DEFAULT_PG_SESSION_SETTINGS, type PgSessionSettings } from './session-settings.js';

/** Tables partitioned by month on `time` (schema/postgres/001_initial.sql). */
export const MONTHLY_TABLES = ['agent_interactions', 'agent_telemetry'] as const;

export function partitionName(table: string, year: number, month: number): string {
  return `${table}_y${year}m${String(month).padStart(2, '0')}`;
}

/** One monthly partition of a table, by the name partitionName gave it: [fromMs, toMs) of `time`. */
export interface MonthlyPartition {
  readonly name: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** False for a table detached by a retention run that stopped before dropping it. */
  readonly attached: boolean;
  /** pg_class.reltuples: PostgreSQL's estimate of its rows (0 when never analyzed). */
  readonly estimatedRows: number;
}

/**
 * The monthly partitions of `table`, oldest first: those attached, and tables of the same
 * name pattern that are detached (a retention run stopped between detaching and dropping).
 * The default partition is not one of them.
 */
export async function listMonthlyPartitions(client: pg.ClientBase, table: string): Promise<MonthlyPartition[]> {
  const { rows } = await client.query<{ name: string; attached: boolean; estimate: number }>(
    `SELECT c.relname AS name,
            EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS attached,
            greatest(c.reltuples, 0)::float8 AS estimate
       FROM pg_class c
      WHERE c.relkind = 'r' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
        AND c.relname ~ ('^' || $1 || '_y[0-9]{4}m[0-9]{2}$')`,
    [table],
  );
  const out: MonthlyPartition[] = [];
  for (const r of rows) {
    const m = /_y(\d{4})m(\d{2})$/.exec(r.name);
    if (m === null) continue;
    const year = Number(m[1]);
    const month = Number(m[2]);
    if (month < 1 || month > 12) continue;
    out.push({
      name: r.name,
      fromMs: Date.UTC(year, month - 1, 1),
      toMs: Date.UTC(year, month, 1),
      attached: r.attached,
      estimatedRows: Math.round(r.estimate),
    });
  }
  return out.sort((a, b) => a.fromMs - b.fromMs);
}

function monthStart(year: number, month: number): string {
  const d = new Date(Date.UTC(year, month - 1, 1));
  return `${d.toISOString().slice(0, 10)} 00:00:00+00`;
}

/**
 * Creates the partitions of the current and the next month (UTC). Rows that arrived before
 * a partition existed sit in the default partition; a plain CREATE … PARTITION OF would
 * then fail, so those rows are moved into the new partition in the same transaction.
 *
 * The table lock is taken under `lock_timeout` (settings.ddlLockTimeoutMs): while a lock
 * request waits, every COPY into the table queues behind it, so the DDL gives up (55P03)
 * rather than stall ingest behind a long transaction; the caller tries again later.
 */
export async function ensureMonthlyPartitions(
  client: pg.ClientBase,
  now: Date = new Date(),
  settings: Pick<PgSessionSettings, 'ddlLockTimeoutMs' | 'ddlStatementTimeoutMs'> = DEFAULT_PG_SESSION_SETTINGS,
): Promise<string[]> {
  const created: string[] = [];
  const months: [number, number][] = [];
  for (let k = 0; k < 2; k++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
    months.push([d.getUTCFullYear(), d.getUTCMonth() + 1]);
  }
  for (const table of MONTHLY_TABLES) {
    for (const [year, month] of months) {
      const name = partitionName(table, year, month);
      const exists = await client.query('SELECT 1 FROM pg_class WHERE relname = $1', [name]);
      if (exists.rowCount !== 0) continue;
      const from = monthStart(year, month);
      const to = month === 12 ? monthStart(year + 1, 1) : monthStart(year, month + 1);
      await client.query('BEGIN');
      try {
        // SET LOCAL: the limits end with this transaction, whatever connection it runs on.
        await client.query(`SET LOCAL lock_timeout = ${Math.trunc(settings.ddlLockTimeoutMs)}; SET LOCAL statement_timeout = ${Math.trunc(settings.ddlStatementTimeoutMs)}`);
        await client.query(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
        await client.query(`CREATE TABLE ${name} (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
        await client.query(
          `WITH moved AS (DELETE FROM ${table}_default WHERE time >= $1 AND time < $2 RETURNING *) INSERT INTO ${name} SELECT * FROM moved`,
          [from, to],
        );
        await client.query(`ALTER TABLE ${table} ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`);
        await client.query('COMMIT');
        created.push(name);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        // Another receiver created it first: that is the outcome we wanted.
        if ((err as { code?: string }).code !== '42P07') throw err;
      }
    }
  }
  return created;
}
