import type pg from 'pg';
import { DEFAULT_PG_SESSION_SETTINGS, type PgSessionSettings } from './session-settings.js';

/** Tables partitioned by month on `time` (schema/postgres/001_initial.sql). */
export const MONTHLY_TABLES = ['agent_interactions', 'agent_telemetry'] as const;

export function partitionName(table: string, year: number, month: number): string {
  return `${table}_y${year}m${String(month).padStart(2, '0')}`;
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
