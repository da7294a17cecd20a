import { encodeAndDescribe, encodeHistogram, newLatencyHistogram, type LatencyHistogram } from './latency-histogram.js';
import type { MinuteCell } from './minute-cells.js';
import type { StatusClassCounts } from './status-classes.js';

/** One row of schema/clickhouse/001_rollup_minute.sql (with 003's columns), as JSONEachRow sends it. */
export interface ClickhouseRow {
  minute: string;
  kind: 'agent' | 'gateway';
  tenant_id: string;
  entity_id: string;
  vendor_id: string;
  row_id: string;
  requests: number;
  successes: number;
  failures: number;
  /** UInt64 as a decimal string: JSON numbers lose digits above 2^53, and both 18.16 and current releases parse quoted integers. */
  spend_atomic: string;
  latency_sum_ms: number;
  latency_p50_ms: number;
  latency_p90_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  latency_hdr: string;
  latency_values: number[];
  latency_counts: number[];
  receiver_id: string;
  flushed_at: string;
  /** 003: a gateway's requests by class of status_code and with a verified payment (agents: 0). */
  status_2xx: number;
  status_3xx: number;
  status_4xx: number;
  status_5xx: number;
  payments_verified: number;
}

/** A sealed cell; a gateway's also carries its status classes (absent counts 0, as in RowGroup). */
export type ClickhouseCell = MinuteCell & Partial<StatusClassCounts>;

const UINT64_MAX = (1n << 64n) - 1n;
/** DateTime is seconds since 1970 in a UInt32: the minutes it can hold. */
const DATETIME_MIN_MS = 0;
const DATETIME_MAX_MS = 4_294_967_295_000;

let emptyEncoding: string | null = null;
/** An empty histogram, for the extra rows of an oversized spend: every row's latency_hdr decodes. */
function emptyHistogram(): string {
  emptyEncoding ??= encodeHistogram(newLatencyHistogram());
  return emptyEncoding;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC, what a DateTime('UTC') column parses. */
export function clickhouseDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Whether a minute fits ClickHouse's DateTime (1970 to 2106); the protocol allows years 1 to 9999. */
export function fitsDateTime(minute: number): boolean {
  return minute >= DATETIME_MIN_MS && minute <= DATETIME_MAX_MS;
}

/**
 * The row(s) of one sealed cell, whose latencies `histogram` holds. Normally one; a spend
 * above 2^64 − 1 (three amounts near the int64 maximum in one key and minute) is split over
 * extra rows with no requests (nor status classes), so every row holds an exact UInt64 and
 * the sum over rows is still the cell's spend.
 */
export function clickhouseRows(cell: ClickhouseCell, histogram: LatencyHistogram, nextRowId: () => string, receiverId: string, flushedAt: string): ClickhouseRow[] {
  const d = encodeAndDescribe(histogram, true);
  const minute = clickhouseDateTime(cell.minute);
  // PostgreSQL keeps the classes in the gateway tables only: an agent row holds 0 whatever its cell says.
  const gateway = cell.kind === 'gateway';
  const first: ClickhouseRow = {
    minute,
    kind: cell.kind,
    tenant_id: cell.tenantId,
    entity_id: cell.entity,
    vendor_id: cell.vendorId,
    row_id: nextRowId(),
    requests: cell.requests,
    successes: cell.successes,
    failures: cell.failures,
    spend_atomic: '0',
    latency_sum_ms: cell.latencySum,
    latency_p50_ms: d.p50,
    latency_p90_ms: d.p90,
    latency_p99_ms: d.p99,
    latency_max_ms: cell.maxLatency,
    latency_hdr: d.encoded,
    latency_values: d.values,
    latency_counts: d.counts,
    receiver_id: receiverId,
    flushed_at: flushedAt,
    status_2xx: gateway ? (cell.status2xx ?? 0) : 0,
    status_3xx: gateway ? (cell.status3xx ?? 0) : 0,
    status_4xx: gateway ? (cell.status4xx ?? 0) : 0,
    status_5xx: gateway ? (cell.status5xx ?? 0) : 0,
    payments_verified: gateway ? (cell.paymentsVerified ?? 0) : 0,
  };
  if (cell.spend <= UINT64_MAX) {
    first.spend_atomic = cell.spend.toString();
    return [first];
  }
  first.spend_atomic = UINT64_MAX.toString();
  const rows = [first];
  for (let rest = cell.spend - UINT64_MAX; rest > 0n; rest -= UINT64_MAX) {
    const part = rest < UINT64_MAX ? rest : UINT64_MAX;
    rows.push({
      ...first,
      row_id: nextRowId(),
      requests: 0,
      successes: 0,
      failures: 0,
      spend_atomic: part.toString(),
      latency_sum_ms: 0,
      latency_p50_ms: 0,
      latency_p90_ms: 0,
      latency_p99_ms: 0,
      latency_max_ms: 0,
      latency_hdr: emptyHistogram(),
      latency_values: [],
      latency_counts: [],
      status_2xx: 0,
      status_3xx: 0,
      status_4xx: 0,
      status_5xx: 0,
      payments_verified: 0,
    });
  }
  return rows;
}
