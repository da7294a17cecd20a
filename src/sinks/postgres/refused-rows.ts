import type pg from 'pg';
import { TABLES, type CopyBatch } from './batch.js';
import type { RefusedPart } from './split-refused.js';

/**
 * Rows of a replayed spool batch that PostgreSQL refuses, set aside in refused_rows
 * (schema/postgres/009_refused_rows.sql) as their raw COPY bytes: they were acknowledged when
 * the spool took them, so they are kept, but they no longer hold up the spool behind them.
 * An operator who changes what PostgreSQL accepts can COPY them back in their format.
 */
export async function setAsideRows(client: pg.ClientBase, batch: CopyBatch, refused: readonly RefusedPart[]): Promise<void> {
  const tables: string[] = [];
  const formats: string[] = [];
  const data: Buffer[] = [];
  const states: (string | null)[] = [];
  const messages: string[] = [];
  for (const { part, error } of refused) {
    const table = TABLES.find((t) => part.rows[t] > 0);
    if (table === undefined) continue;
    const row = part.chunks[table];
    tables.push(table);
    formats.push(batch.formats[table]);
    data.push(Buffer.from(row.buffer, row.byteOffset, row.byteLength));
    const code = (error as { code?: unknown }).code;
    states.push(typeof code === 'string' ? code : null);
    messages.push(error.message);
  }
  if (tables.length === 0) return;
  await client.query(
    'INSERT INTO refused_rows (table_name, copy_format, row_data, sql_state, message) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[])',
    [tables, formats, data, states, messages],
  );
}
