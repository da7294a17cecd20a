import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type pg from 'pg';
import type { ClickhouseFoldRows } from './clickhouse-fold-rows.js';
import { BUCKET_ROW_READ, BUCKET_ROW_VALUES, BucketRowMerger, type StoredBucketRow } from './bucket-row-merge.js';
import { cellsByBucket, DAY_MS, PendingCells, type FoldCell, type PendingRow } from './fold-cells.js';
import { HOUR_MS, HourDeltas, type HourDelta, type VendorTally } from './hour-deltas.js';
import { HourRowMerger, type StoredHourRow } from './hourly-row-merge.js';
import { decodeHistogram, type LatencyHistogram } from './latency-histogram.js';
import { addStatusClasses, emptyStatusClasses, mergedStatusClasses, STATUS_CLASS_READ, STATUS_CLASS_VALUES, type StatusClassCounts, type StoredStatusClasses } from './status-classes.js';
import { LockedRowsJson, lockedRowKey, lockedRowsSql, type LockedRowsSql, type RollupTableShape } from './locked-rows-sql.js';

/**
 * One fold: claim the oldest pending tallies no other folder holds, merge them into the
 * minute, day and hour tables, delete them, in one transaction. The claim is the DELETE
 * itself (ids picked with FOR UPDATE SKIP LOCKED): a folder that dies before COMMIT leaves
 * every row pending, and two folders never claim the same row.
 */
const CLAIM_SQL = `DELETE FROM rollup_pending WHERE id IN (
    SELECT id FROM rollup_pending ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING kind, tenant_id, entity_id, vendor_id, (extract(epoch FROM minute) * 1000)::bigint::text AS minute_ms,
    total_requests, successful_requests, failed_requests, total_spend_atomic::text AS spend, latency_sum_ms::text AS latency_sum,
    max_latency_ms, array_to_string(latencies, ',') AS latencies, latency_histogram,
    (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms,
    status_2xx, status_3xx, status_4xx, status_5xx, payments_verified`;

/** A table's key values for one item, in key order; `bucket` as epoch ms. */
type KeyOf<T> = (item: T) => (string | number)[];

interface Table<T> {
  shape: RollupTableShape;
  sql: LockedRowsSql;
  kind: 'agent' | 'gateway';
  keyOf: KeyOf<T>;
}

function table<T>(kind: 'agent' | 'gateway', shape: RollupTableShape, keyOf: KeyOf<T>): Table<T> {
  return { shape, sql: lockedRowsSql(shape), kind, keyOf };
}

function bucketTable(kind: 'agent' | 'gateway', name: string): Table<FoldCell> {
  if (kind === 'agent') return table(kind, { name, keys: ['agent_id', 'bucket', 'vendor_id'], values: BUCKET_ROW_VALUES, read: BUCKET_ROW_READ }, (c) => [c.entity, c.bucket, c.vendorId]);
  // Gateway tables also carry the status classes (012), written after the common values.
  return table(
    kind,
    { name, keys: ['tenant_id', 'gateway_id', 'bucket', 'vendor_id'], values: [...BUCKET_ROW_VALUES, ...STATUS_CLASS_VALUES], read: `${BUCKET_ROW_READ}, ${STATUS_CLASS_READ}` },
    (c) => [c.tenantId, c.entity, c.bucket, c.vendorId],
  );
}

const HOUR_VALUES = [
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
] as const;

const HOUR_READ = `t.total_requests::text AS total_requests, t.successful_requests::text AS successful_requests,
  t.failed_requests::text AS failed_requests, t.total_spend_atomic::text AS total_spend_atomic,
  t.latency_sum_ms::text AS latency_sum_ms, t.max_latency_ms, t.latency_histogram, t.vendor_breakdown::text AS vendor_breakdown`;

function hourTable(kind: 'agent' | 'gateway'): Table<HourDelta> {
  return kind === 'agent'
    ? table(kind, { name: 'agent_stats_hourly', keys: ['bucket', 'agent_id'], values: HOUR_VALUES, read: HOUR_READ, touch: 'updated_at = now()' }, (d) => [d.bucket, d.entity])
    : table(
        kind,
        {
          name: 'gateway_stats_hourly',
          keys: ['bucket', 'tenant_id', 'gateway_id'],
          values: [...HOUR_VALUES, ...STATUS_CLASS_VALUES],
          read: `${HOUR_READ}, ${STATUS_CLASS_READ}`,
          touch: 'updated_at = now()',
        },
        (d) => [d.bucket, d.tenantId, d.entity],
      );
}

/** Every folder locks the tables in this order (and each table's rows in key order). */
const MINUTE_TABLES = [bucketTable('agent', 'agent_stats_minute'), bucketTable('gateway', 'gateway_stats_minute')];
const DAY_TABLES = [bucketTable('agent', 'agent_stats_daily'), bucketTable('gateway', 'gateway_stats_daily')];
const HOUR_TABLES = [hourTable('agent'), hourTable('gateway')];

/** Merging is CPU work on this thread: the event loop gets a turn at least this often. */
const SLICE_MS = 5;
/** Claimed rows grouped between two looks at the clock (a few µs each). */
const PARSE_SLICE_ROWS = 256;
/** Most rows of one UPDATE statement. */
const UPDATE_ROWS = 200;

export interface FoldRoundResult {
  /** Pending rows folded (and deleted). */
  rows: number;
  /** Requests those rows counted. */
  requests: number;
  /** Minute cells written. */
  cells: number;
  /** Oldest created_at among the folded rows (epoch ms); null when nothing was folded. */
  oldestCreatedMs: number | null;
  /** rollup_minute rows put in rollup_clickhouse_outbox (0 without ClickHouse). */
  clickhouseRows: number;
}

const OUTBOX_SQL = 'INSERT INTO rollup_clickhouse_outbox (rows, row_count) VALUES ($1, $2)';

/** The JS side of merging, kept across rounds (scratch histograms, problem counters). */
export class FoldMergers {
  readonly bucket = new BucketRowMerger();
  readonly hour = new HourRowMerger();

  get undecodable(): number {
    return this.bucket.undecodable + this.hour.problems.undecodable;
  }
}

/**
 * Runs one fold on `client` (checked out, not in a transaction). Throws the driver's error
 * on failure, with the transaction left to the caller to roll back or the connection to drop.
 * With `clickhouse`, the fold's rollup_minute delta rows go into rollup_clickhouse_outbox in
 * the same transaction.
 */
export async function foldRound(client: pg.ClientBase, maxRows: number, mergers: FoldMergers, clickhouse: ClickhouseFoldRows | null = null): Promise<FoldRoundResult> {
  await client.query('BEGIN');
  const claimed = await client.query<PendingRow>(CLAIM_SQL, [maxRows]);
  if (claimed.rows.length === 0) {
    await client.query('COMMIT');
    return { rows: 0, requests: 0, cells: 0, oldestCreatedMs: null, clickhouseRows: 0 };
  }
  const slicer = new Slicer();
  const grouped = new PendingCells();
  for (let i = 0; i < claimed.rows.length; i += PARSE_SLICE_ROWS) {
    grouped.add(claimed.rows, i, Math.min(i + PARSE_SLICE_ROWS, claimed.rows.length));
    await slicer.maybeYield();
  }
  const cells = grouped.list();
  let requests = 0;
  let oldest = Infinity;
  for (const c of cells) {
    requests += c.requests;
    if (c.oldestCreatedMs < oldest) oldest = c.oldestCreatedMs;
  }
  for (const t of MINUTE_TABLES) await applyTable(client, t, cells, (s, c) => bucketRowValues(mergers.bucket, s, c), slicer);
  const days = cellsByBucket(cells, DAY_MS);
  for (const t of DAY_TABLES) await applyTable(client, t, days, (s, c) => bucketRowValues(mergers.bucket, s, c), slicer);
  let clickhouseRows = 0;
  if (clickhouse !== null) {
    const rows = clickhouse.build(cells);
    clickhouseRows = rows.length;
    if (rows.length > 0) await client.query(OUTBOX_SQL, [JSON.stringify(rows), rows.length]);
  }
  // Last: HourDeltas takes the cells' latency lists over and appends to them.
  const hourClasses = gatewayHourClasses(cells);
  const hours = hourDeltas(cells);
  for (const t of HOUR_TABLES) await applyTable(client, t, hours, (s, d) => hourRowValues(mergers.hour, s, d, hourClasses), slicer);
  await client.query('COMMIT');
  return { rows: claimed.rows.length, requests, cells: cells.length, oldestCreatedMs: oldest, clickhouseRows };
}

function hourDeltas(cells: readonly FoldCell[]): HourDelta[] {
  const deltas = new HourDeltas();
  for (const c of cells) {
    let rawCount = 0;
    for (const a of c.latencies) rawCount += a.length;
    let histogram: LatencyHistogram | null = null;
    for (const e of c.histograms) {
      try {
        const h = decodeHistogram(e);
        if (histogram === null) histogram = h;
        else histogram.add(h);
      } catch {
        // Counted by the bucket merger, which met the same encoding first.
      }
    }
    const tally: VendorTally = {
      requests: c.requests,
      successes: c.successes,
      failures: c.failures,
      spend: c.spend,
      latencySum: c.latencySum,
      maxLatency: c.maxLatency ?? 0,
      raw: [...c.latencies],
      rawCount,
      histogram,
    };
    const bucket = Math.floor(c.bucket / HOUR_MS) * HOUR_MS;
    deltas.addDelta({ kind: c.kind, bucket, tenantId: c.tenantId, entity: c.entity, vendors: new Map([[c.vendorId, tally]]), oldestOpenedAt: c.oldestCreatedMs });
  }
  return deltas.sorted();
}

/** A bucket row's values; a gateway's status classes after the common ones (bucketTable). */
function bucketRowValues(merger: BucketRowMerger, stored: unknown, c: FoldCell): unknown[] {
  const values: unknown[] = merger.merge(stored as StoredBucketRow | undefined, c);
  if (c.kind === 'gateway') values.push(...mergedStatusClasses(stored as StoredStatusClasses | undefined, c));
  return values;
}

function hourClassKey(bucket: number, tenantId: string, entity: string): string {
  return `${bucket}\u0000${tenantId}\u0000${entity}`;
}

/** The gateway cells' status classes summed per hour row (HourDeltas carries the common counts only). */
function gatewayHourClasses(cells: readonly FoldCell[]): Map<string, StatusClassCounts> {
  const out = new Map<string, StatusClassCounts>();
  for (const c of cells) {
    if (c.kind !== 'gateway') continue;
    const key = hourClassKey(Math.floor(c.bucket / HOUR_MS) * HOUR_MS, c.tenantId, c.entity);
    let sum = out.get(key);
    if (sum === undefined) out.set(key, (sum = emptyStatusClasses()));
    addStatusClasses(sum, c);
  }
  return out;
}

function hourRowValues(merger: HourRowMerger, stored: unknown, d: HourDelta, classes: ReadonlyMap<string, StatusClassCounts>): unknown[] {
  const m = merger.merge(stored as StoredHourRow | undefined, d);
  const values: unknown[] = [
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
  if (d.kind === 'gateway') {
    const add = classes.get(hourClassKey(d.bucket, d.tenantId, d.entity)) ?? emptyStatusClasses();
    values.push(...mergedStatusClasses(stored as StoredStatusClasses | undefined, add));
  }
  return values;
}

/** Create missing rows, lock and read them, merge in JS, write back: three statements per table. */
async function applyTable<T extends { kind: 'agent' | 'gateway' }>(
  client: pg.ClientBase,
  t: Table<T>,
  all: readonly T[],
  merge: (stored: unknown, item: T) => unknown[],
  slicer: Slicer,
): Promise<void> {
  const items = all.filter((i) => i.kind === t.kind);
  if (items.length === 0) return;
  const keys = t.shape.keys;
  const json = new LockedRowsJson(t.shape);
  const itemKeys: string[] = [];
  const itemKeyValues: string[][] = [];
  for (const item of items) {
    const kv = t.keyOf(item);
    const params = kv.map((v, i) => (keys[i] === 'bucket' ? new Date(v).toISOString() : (v as string)));
    json.addKey(params);
    itemKeyValues.push(params);
    itemKeys.push(lockedRowKey(kv.map(String)));
  }
  const keysJson = json.keysJson();
  await client.query(t.sql.placeholders, [keysJson]);
  const locked = await client.query<Record<string, unknown>>(t.sql.lock, [keysJson]);
  const stored = new Map<string, unknown>();
  for (const row of locked.rows) stored.set(lockedRowKey(keys.map((k) => String(row[k]))), row);
  for (let n = 0; n < items.length; n++) {
    await slicer.maybeYield();
    json.addRow(itemKeyValues[n] as string[], merge(stored.get(itemKeys[n] as string), items[n] as T));
    // Written in parts: one statement of thousands of rows (kilobytes of histograms each) is
    // megabytes the driver copies into its message in one go on this thread.
    if (json.rowCount >= UPDATE_ROWS) await client.query(t.sql.update, [json.takeRowsJson()]);
  }
  if (json.rowCount > 0) await client.query(t.sql.update, [json.takeRowsJson()]);
}

/** Gives the event loop a turn once SLICE_MS of merging has passed since the last one. */
class Slicer {
  private since = performance.now();

  async maybeYield(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await yieldToEventLoop();
    this.since = performance.now();
  }
}
