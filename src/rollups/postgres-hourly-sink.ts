import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type pg from 'pg';
import { classifyPgError } from '../database/index.js';
import type { HourDelta } from './hour-deltas.js';
import { HourRowMerger, type MergeProblems, type StoredHourRow } from './hourly-row-merge.js';

/** How the two hourly tables differ: their key. Everything else is the same SQL. */
interface HourlyTable {
  kind: 'agent' | 'gateway';
  name: string;
  /** Key columns after `bucket`, and how a delta fills them. */
  keys: readonly string[];
  keyValues(d: HourDelta): string[];
}

const TABLES: readonly HourlyTable[] = [
  { kind: 'agent', name: 'agent_stats_hourly', keys: ['agent_id'], keyValues: (d) => [d.entity] },
  { kind: 'gateway', name: 'gateway_stats_hourly', keys: ['tenant_id', 'gateway_id'], keyValues: (d) => [d.tenantId, d.entity] },
];

interface TableSql {
  placeholders: string;
  lock: string;
  update: string;
}

function sqlFor(t: HourlyTable): TableSql {
  const keys = ['bucket', ...t.keys];
  const keyList = keys.join(', ');
  const keyParams = keys.map((k, i) => `$${i + 1}::${k === 'bucket' ? 'timestamptz' : 'text'}[]`).join(', ');
  const n = keys.length;
  const valueCols: [string, string][] = [
    ['total_requests', 'bigint'],
    ['successful_requests', 'bigint'],
    ['failed_requests', 'bigint'],
    ['total_spend_atomic', 'numeric'],
    ['latency_sum_ms', 'bigint'],
    ['avg_latency_ms', 'float8'],
    ['p50_latency_ms', 'float8'],
    ['p90_latency_ms', 'float8'],
    ['p99_latency_ms', 'float8'],
    ['max_latency_ms', 'int'],
    ['latency_histogram', 'text'],
    ['vendor_breakdown', 'jsonb'],
  ];
  const valueParams = valueCols.map(([, type], i) => `$${n + i + 1}::${type}[]`).join(', ');
  return {
    // Rows that do not exist yet are created empty first, so that every row of the batch can
    // then be locked and read the same way; ON CONFLICT DO NOTHING waits for a concurrent
    // inserter instead of overwriting it. Both statements go in key order, so two receivers
    // flushing overlapping keys queue behind each other instead of deadlocking.
    placeholders: `INSERT INTO ${t.name} (${keyList}) SELECT ${keyList} FROM unnest(${keyParams}) AS k(${keyList}) ORDER BY ${keyList} ON CONFLICT DO NOTHING`,
    lock: `SELECT ${t.keys.map((k) => `t.${k}`).join(', ')}, (extract(epoch FROM t.bucket) * 1000)::bigint::text AS bucket_ms,
             t.total_requests::text AS total_requests, t.successful_requests::text AS successful_requests,
             t.failed_requests::text AS failed_requests, t.total_spend_atomic::text AS total_spend_atomic,
             t.latency_sum_ms::text AS latency_sum_ms, t.max_latency_ms, t.latency_histogram, t.vendor_breakdown::text AS vendor_breakdown
           FROM ${t.name} AS t JOIN unnest(${keyParams}) AS k(${keyList}) USING (${keyList})
           ORDER BY ${keys.map((k) => `t.${k}`).join(', ')} FOR UPDATE OF t`,
    update: `UPDATE ${t.name} AS t SET ${valueCols.map(([c]) => `${c} = v.${c}`).join(', ')}, updated_at = now()
             FROM unnest(${keyParams}, ${valueParams}) AS v(${keyList}, ${valueCols.map(([c]) => c).join(', ')})
             WHERE ${keys.map((k) => `t.${k} = v.${k}`).join(' AND ')}`,
  };
}

const SQL = new Map<HourlyTable, TableSql>(TABLES.map((t) => [t, sqlFor(t)]));
const MERGE_SLICE_MS = 5;

export type ApplyResult = 'applied' | 'duplicate';

/**
 * Adds hour deltas to agent_stats_hourly and gateway_stats_hourly in one transaction:
 * lock the rows (creating missing ones), merge in JS, write back. The batch id goes into
 * rollup_applied_batches in the same transaction, so a batch whose COMMIT was lost in transit
 * and is sent again is recognised and not added twice.
 */
export class PostgresHourlySink {
  private readonly merger = new HourRowMerger();

  constructor(private readonly pool: pg.Pool) {}

  /** Stored histograms that failed to decode (see MergeProblems). */
  get problems(): MergeProblems {
    return this.merger.problems;
  }

  /** Throws the driver's error on failure; classify it with classifyPgError. */
  async apply(batchId: string, deltas: readonly HourDelta[]): Promise<ApplyResult> {
    const client = await this.pool.connect();
    // A connection that drops between two statements emits 'error' on the checked-out client
    // (the pool only listens on idle ones); unhandled, that would end the process. The next
    // statement fails with the same cause, which is what decides the outcome.
    const onError = (): void => undefined;
    client.on('error', onError);
    let broken = false;
    try {
      await client.query('BEGIN');
      const fresh = await client.query('INSERT INTO rollup_applied_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING', [batchId]);
      if (fresh.rowCount === 0) {
        await client.query('ROLLBACK');
        return 'duplicate';
      }
      for (const table of TABLES) {
        const mine = deltas.filter((d) => d.kind === table.kind);
        if (mine.length > 0) await this.applyTable(client, table, mine);
      }
      await client.query('COMMIT');
      return 'applied';
    } catch (err) {
      broken = classifyPgError(err) === 'unavailable';
      if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Forgets batch ids older than a week: a retry comes within minutes, not days. */
  async prune(): Promise<void> {
    await this.pool.query("DELETE FROM rollup_applied_batches WHERE applied_at < now() - interval '7 days'");
  }

  private async applyTable(client: pg.PoolClient, table: HourlyTable, deltas: readonly HourDelta[]): Promise<void> {
    const sql = SQL.get(table) as TableSql;
    const keyColumns: string[][] = [[], ...table.keys.map(() => [])];
    for (const d of deltas) {
      (keyColumns[0] as string[]).push(new Date(d.bucket).toISOString());
      const kv = table.keyValues(d);
      for (let i = 0; i < kv.length; i++) (keyColumns[i + 1] as string[]).push(kv[i] as string);
    }
    await client.query(sql.placeholders, keyColumns);
    const locked = await client.query<StoredHourRow & Record<string, string>>(sql.lock, keyColumns);
    const stored = new Map<string, StoredHourRow>();
    for (const row of locked.rows) stored.set(rowKey(row.bucket_ms as string, table.keys.map((k) => row[k] as string)), row);

    const values: unknown[][] = Array.from({ length: 12 }, () => []);
    let sliceStart = performance.now();
    for (const d of deltas) {
      // Merging is CPU work on the main thread (≈0.1–1 ms a row): give the event loop a turn
      // every few ms so HTTP acks do not wait behind a large batch.
      if (performance.now() - sliceStart > MERGE_SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
      const m = this.merger.merge(stored.get(rowKey(String(d.bucket), table.keyValues(d))), d);
      const row = [
        m.totalRequests,
        m.successfulRequests,
        m.failedRequests,
        m.totalSpendAtomic,
        m.latencySumMs,
        m.avgLatencyMs,
        m.p50,
        m.p90,
        m.p99,
        m.maxLatencyMs,
        m.latencyHistogram,
        m.vendorBreakdown,
      ];
      for (let i = 0; i < row.length; i++) (values[i] as unknown[]).push(row[i]);
    }
    await client.query(sql.update, [...keyColumns, ...values]);
  }
}

function rowKey(bucketMs: string, keys: readonly string[]): string {
  return `${bucketMs}\u0000${keys.join('\u0000')}`;
}
