import type pg from 'pg';
import { accessSql, type AgentAccess } from './agent-access.js';
import { decodeCursor, encodeCursor, INT64_TEXT, MICROS_TIME } from './cursor.js';
import { queryWithGenericPlan } from './prepared.js';
import { ReadError } from './read-errors.js';
import { apiTime, utcMicros } from './times.js';
import type { RequestedWindow } from './window.js';
import type { HistoryRow } from '../protocol/index.js';

export interface HistoryFilter {
  window: RequestedWindow | null;
  vendorId: string | undefined;
  success: boolean | undefined;
  cursor: string | undefined;
  limit: number;
}

/** A history cursor: the last row's exact time (microseconds) and nonce. */
export function parseHistoryCursor(text: string): [string, string] | ReadError {
  const parts = decodeCursor(text, [MICROS_TIME, INT64_TEXT]);
  if (parts instanceof ReadError) return parts;
  const [time, nonce] = parts as [string, string];
  const n = BigInt(nonce);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) return new ReadError('invalid_query', "Query parameter 'cursor' is not a cursor this endpoint returned.");
  return [time, nonce];
}

/**
 * GET /v1/agent/history: the stored interactions, newest first by (time, nonce), which is
 * unique per agent. A keyset, not an offset: rows that arrive while a client pages never
 * shift the pages after its cursor, so every row that existed at the first page is seen
 * exactly once.
 */
export async function agentHistory(
  pool: pg.Pool,
  access: AgentAccess,
  f: HistoryFilter,
): Promise<{ data: HistoryRow[]; next_cursor: string | null } | ReadError | null> {
  const where = ['agent_id = $1'];
  const params: unknown[] = [access.agentId, access.tenantId];
  const add = (sql: (n: string) => string, ...values: unknown[]): void => {
    const refs = values.map((v) => {
      params.push(v);
      return `$${params.length}`;
    });
    where.push(sql(refs.join(',')));
  };
  /** Which filters the statement has: its name. */
  const filters: string[] = [];
  if (f.window !== null) {
    filters.push('w');
    add((p) => `time >= ${p}::timestamptz`, new Date(f.window.fromMs).toISOString());
    add((p) => `time < ${p}::timestamptz`, new Date(f.window.toMs).toISOString());
  }
  if (f.vendorId !== undefined) {
    filters.push('v');
    add((p) => `vendor_id = ${p}`, f.vendorId);
  }
  if (f.success !== undefined) {
    filters.push('s');
    add((p) => `success = ${p}`, f.success);
  }
  if (f.cursor !== undefined) {
    filters.push('c');
    const c = parseHistoryCursor(f.cursor);
    if (c instanceof ReadError) return c;
    params.push(c[0], c[1]);
    where.push(`(time, nonce) < ($${params.length - 1}::timestamptz, $${params.length}::bigint)`);
  }
  // One statement: the access check ($2) and the page, as the metrics' (agent-metrics.ts); a
  // page without rows is one row of nulls. ORDER BY names the table's columns: a bare
  // `nonce` would be the text column of the output.
  params.push(f.limit + 1);
  const { rows } = await queryWithGenericPlan<Omit<HistoryRow, 'time'> & { t: string | null }>(pool, {
    // One statement per combination of filters, each prepared once per connection.
    name: `read-history-${filters.join('')}`,
    text: `WITH head AS (SELECT 1 WHERE ${accessSql('$1', '$2')})
     SELECT h.* FROM head LEFT JOIN LATERAL (
       SELECT ${utcMicros('time')} AS t, vendor_id, nonce::text AS nonce, amount_atomic::text AS amount_atomic, token_mint,
              request_url, request_method, success, latency_ms, error_type, error_message, signature
       FROM agent_interactions i WHERE ${where.join(' AND ')}
       ORDER BY i.time DESC, i.nonce DESC LIMIT $${params.length}) h ON true`,
    values: params,
  });
  if (rows.length === 0) return null;
  const found = rows.filter((r): r is typeof r & { t: string } => r.t !== null);
  const page = found.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    data: page.map(({ t, ...r }) => ({ time: apiTime(t), ...r })),
    next_cursor: found.length > f.limit && last !== undefined ? encodeCursor([last.t, last.nonce]) : null,
  };
}
