import type pg from 'pg';
import { comparePositions, type LogPosition } from './log-position.js';
import type { StreamSource } from './stream-sources.js';

/** One committed row, placed in the log. */
export interface LogRow {
  position: LogPosition;
  source: StreamSource;
  agentId: string;
  /** The agent's tenant when the row was read (null: not linked). */
  tenantId: string | null;
  /** The source's columns, as selected. */
  row: Record<string, unknown>;
}

export interface LiveRead {
  rows: LogRow[];
  /** Every row of a transaction below this id has now been read; the next read starts here. */
  next: bigint;
  /** The snapshot's xmin: the horizon below which every transaction has ended. */
  horizon: bigint;
}

type SourceRow = Record<string, unknown> & { xid: string; agent_id: string; tenant: string | null };

/**
 * Reads the rows of transactions in [from, min(horizon, from + maxXids)), where horizon is
 * the xmin of the read's own snapshot: every transaction below it has ended, so those rows
 * are final and none can appear later. One round trip: the statements run in one
 * REPEATABLE READ transaction so the horizon and the rows come from the same snapshot.
 * `from` and the bound are bigints this module computed, never client input.
 */
export async function readLive(client: pg.ClientBase, sources: readonly StreamSource[], from: bigint, maxXids: number): Promise<LiveRead> {
  const horizonSql = 'pg_snapshot_xmin(pg_current_snapshot())::text::bigint';
  const cap = from + BigInt(maxXids);
  let sql = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT ${horizonSql}::text AS horizon;`;
  for (const s of sources) {
    sql += `
      SELECT r.stream_xid::text AS xid, a.tenant_id AS tenant, ${s.columns}
      FROM ${s.table} r LEFT JOIN agents a ON a.pubkey = r.agent_id
      WHERE r.stream_xid >= ${from} AND r.stream_xid < LEAST(${cap}, ${horizonSql})
      ORDER BY r.stream_xid, ${s.keyOrder};`;
  }
  sql += 'COMMIT;';
  const results = (await client.query(sql)) as unknown as pg.QueryResult[];
  const horizon = BigInt((results[1]?.rows[0] as { horizon: string }).horizon);
  const rows: LogRow[] = [];
  sources.forEach((s, i) => {
    let xid = -1n;
    let ordinal = 0;
    for (const r of (results[2 + i]?.rows ?? []) as SourceRow[]) {
      const x = BigInt(r.xid);
      ordinal = x === xid ? ordinal + 1 : 0;
      xid = x;
      rows.push({ position: { xid: x, source: s.number, ordinal }, source: s, agentId: r.agent_id, tenantId: r.tenant, row: r });
    }
  });
  rows.sort((a, b) => comparePositions(a.position, b.position));
  return { rows, next: horizon < cap ? horizon : cap, horizon };
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
  client: pg.ClientBase | pg.Pool,
  sources: readonly StreamSource[],
  after: LogPosition,
  before: bigint,
  filter: RowFilter,
): Promise<LogRow[]> {
  const rows: LogRow[] = [];
  const byAgent = 'agentId' in filter;
  for (const s of sources) {
    const params: unknown[] = [after.xid.toString(), before.toString()];
    let where: string;
    if (byAgent) {
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
    const { rows: found } = await client.query<SourceRow & { ord: string }>(
      `SELECT * FROM (
         SELECT r.stream_xid::text AS xid, (row_number() OVER (PARTITION BY r.stream_xid ORDER BY ${s.keyOrder}) - 1)::text AS ord,
                a.tenant_id AS tenant, ${s.columns}
         FROM ${s.table} r LEFT JOIN agents a ON a.pubkey = r.agent_id
         WHERE r.stream_xid >= $1::bigint AND r.stream_xid < $2::bigint
       ) s WHERE ${where}
       ORDER BY s.xid::bigint, s.ord::int`,
      params,
    );
    for (const r of found) {
      const position = { xid: BigInt(r.xid), source: s.number, ordinal: Number(r.ord) };
      if (comparePositions(position, after) <= 0) continue;
      rows.push({ position, source: s, agentId: r.agent_id, tenantId: r.tenant, row: r });
    }
  }
  rows.sort((a, b) => comparePositions(a.position, b.position));
  return rows;
}

/** The current horizon alone: where a stream with no history starts. */
export async function readHorizon(client: pg.ClientBase | pg.Pool): Promise<bigint> {
  const { rows } = await client.query<{ h: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS h');
  return BigInt((rows[0] as { h: string }).h);
}
