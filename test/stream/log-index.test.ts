/**
 * The stream's indexes on the raw tables (schema 013): partial, so a row stored while capture
 * is off (stream_xid NULL) touches none; the log's reads still find their rows through them;
 * and a monthly partition created later gets the same partial index.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureMonthlyPartitions } from '../../src/database/index.js';
import { LIVE_READ_SETTINGS, liveSourceSql, rangeSourceSql, READ_SETTINGS } from '../../src/stream/log-reader.js';
import { INTERACTIONS, TELEMETRY } from '../../src/stream/stream-sources.js';
import { streamDatabase, type StreamDatabase } from './support.js';

let d: StreamDatabase;

beforeAll(async () => {
  d = await streamDatabase('stream_log_index');
  // A month of its own, so the partition is new to this database whatever today's date.
  const c = await d.pool.connect();
  try {
    await ensureMonthlyPartitions(c, new Date(Date.UTC(2031, 4, 15)));
  } finally {
    c.release();
  }
});
afterAll(async () => {
  await d?.close();
});

/** The stream_xid indexes of a table's partitions: partition name → index definition. */
async function streamIndexes(table: string): Promise<Map<string, string>> {
  const { rows } = await d.pool.query<{ part: string; def: string }>(
    `SELECT c.relname AS part, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_inherits h
       JOIN pg_class c ON c.oid = h.inhrelid
       JOIN pg_index i ON i.indrelid = c.oid
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] AND a.attname = 'stream_xid'
      WHERE h.inhparent = $1::regclass`,
    [table],
  );
  return new Map(rows.map((r) => [r.part, r.def]));
}

it('every partition, the default and one created later, has a partial BRIN index on stream_xid', async () => {
  for (const table of ['agent_interactions', 'agent_telemetry']) {
    const found = await streamIndexes(table);
    expect([...found.keys()].sort()).toEqual([`${table}_default`, `${table}_y2031m05`, `${table}_y2031m06`].sort());
    for (const def of found.values()) {
      expect(def).toContain('USING brin (stream_xid)');
      expect(def).toContain('WHERE (stream_xid IS NOT NULL)');
    }
  }
});

/** The plan's text, under the settings every log read runs with. */
async function plan(sql: string, params: unknown[] = []): Promise<string> {
  const c = await d.pool.connect();
  try {
    await c.query(`BEGIN; ${READ_SETTINGS}`);
    const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
    await c.query('ROLLBACK');
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    c.release();
  }
}

/** The generic plan of a live read's statement, prepared and executed as readLive does. */
async function livePlan(sql: string): Promise<string> {
  const c = await d.pool.connect();
  try {
    await c.query(`BEGIN; ${LIVE_READ_SETTINGS} PREPARE plan_check(bigint, bigint) AS ${sql}`);
    const { rows } = await c.query<{ 'QUERY PLAN': string }>('EXPLAIN EXECUTE plan_check(1000, LEAST(2000, pg_snapshot_xmin(pg_current_snapshot())::text::bigint))');
    await c.query('ROLLBACK; DEALLOCATE plan_check');
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    c.release();
  }
}

it("the live read and the catch-up read find the log's rows through the partial indexes, never a sequential scan", async () => {
  for (const s of [INTERACTIONS, TELEMETRY]) {
    const wanted = "(r.agent_id = ANY(ARRAY['agent-x']::text[]) OR r.tenant = ANY(ARRAY['tenant-x']::text[]))";
    const live = await livePlan(liveSourceSql(s, wanted));
    expect(live).toMatch(new RegExp(`Bitmap Index Scan on ${s.table}_default_stream_xid_idx`));
    expect(live).not.toMatch(/Seq Scan on agent_(interactions|telemetry)/);
    const range = await plan(rangeSourceSql(s, 's.tenant = $3'), ['1000', '2000', 'tenant-x']);
    expect(range).toMatch(new RegExp(`Bitmap Index Scan on ${s.table}_y2031m05_stream_xid_idx`));
    expect(range).not.toMatch(/Seq Scan on agent_(interactions|telemetry)/);
  }
});
