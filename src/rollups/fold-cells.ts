import type { RollupCounts } from './minute-cells.js';
import { addStatusClasses, type StatusClassCounts } from './status-classes.js';

/** One claimed rollup_pending row, as the claim statement returns it (numbers as text where int64 or numeric). */
export interface PendingRow {
  kind: 'agent' | 'gateway';
  tenant_id: string;
  entity_id: string;
  vendor_id: string;
  minute_ms: string;
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  spend: string;
  latency_sum: string;
  max_latency_ms: number | null;
  /** array_to_string(latencies, ','): cheaper to split than the driver's array parser. */
  latencies: string | null;
  latency_histogram: string | null;
  created_ms: string;
  /** 012's counts (0 for agents). */
  status_2xx: number;
  status_3xx: number;
  status_4xx: number;
  status_5xx: number;
  payments_verified: number;
}

/** Counts of one (kind, tenant, entity, vendor, bucket) gathered from pending rows. */
export interface FoldCell extends Omit<RollupCounts, 'maxLatency'>, StatusClassCounts {
  readonly kind: 'agent' | 'gateway';
  readonly tenantId: string;
  readonly entity: string;
  readonly vendorId: string;
  /** Epoch ms of the bucket start (minute, hour or day). */
  readonly bucket: number;
  /** Null while no latency was seen (spend-only tallies). */
  maxLatency: number | null;
  /** Raw latency arrays, recorded into histograms when the rows are merged. */
  readonly latencies: number[][];
  /** Encoded histograms of pending rows that carried one instead of raw latencies. */
  readonly histograms: string[];
  /** Oldest created_at (epoch ms) of the pending rows folded in. */
  oldestCreatedMs: number;
}

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/**
 * Claimed pending rows grouped by (kind, tenant, entity, vendor, minute). A key string per
 * pending row (not per latency); latencies are parsed once into plain arrays. Rows are added
 * in slices (add(rows, from, to)) so the caller can give the event loop a turn in between.
 */
export class PendingCells {
  private readonly cells = new Map<string, FoldCell>();

  add(rows: readonly PendingRow[], from: number, to: number): void {
    const cells = this.cells;
    for (let i = from; i < to; i++) {
      const r = rows[i] as PendingRow;
      const minute = Number(r.minute_ms);
      const key = `${r.kind}\u0000${r.tenant_id}\u0000${r.entity_id}\u0000${r.vendor_id}\u0000${minute}`;
      let cell = cells.get(key);
      const created = Number(r.created_ms);
      if (cell === undefined) {
        cell = emptyCell(r.kind, r.tenant_id, r.entity_id, r.vendor_id, minute, created);
        cells.set(key, cell);
      } else if (created < cell.oldestCreatedMs) {
        cell.oldestCreatedMs = created;
      }
      cell.requests += r.total_requests;
      cell.successes += r.successful_requests;
      cell.failures += r.failed_requests;
      cell.status2xx += r.status_2xx;
      cell.status3xx += r.status_3xx;
      cell.status4xx += r.status_4xx;
      cell.status5xx += r.status_5xx;
      cell.paymentsVerified += r.payments_verified;
      if (r.spend !== '0') cell.spend += BigInt(r.spend);
      cell.latencySum += Number(r.latency_sum);
      if (r.max_latency_ms !== null && (cell.maxLatency === null || r.max_latency_ms > cell.maxLatency)) cell.maxLatency = r.max_latency_ms;
      if (r.latencies !== null && r.latencies !== '') cell.latencies.push(parseLatencies(r.latencies));
      if (r.latency_histogram !== null && r.latency_histogram !== '') cell.histograms.push(r.latency_histogram);
    }
  }

  list(): FoldCell[] {
    return [...this.cells.values()];
  }
}

/** Cells regrouped into coarser buckets (e.g. days); latency arrays are shared, not copied. */
export function cellsByBucket(cells: readonly FoldCell[], bucketMs: number): FoldCell[] {
  const out = new Map<string, FoldCell>();
  for (const c of cells) {
    const bucket = Math.floor(c.bucket / bucketMs) * bucketMs;
    const key = `${c.kind}\u0000${c.tenantId}\u0000${c.entity}\u0000${c.vendorId}\u0000${bucket}`;
    let d = out.get(key);
    if (d === undefined) {
      d = emptyCell(c.kind, c.tenantId, c.entity, c.vendorId, bucket, c.oldestCreatedMs);
      out.set(key, d);
    } else if (c.oldestCreatedMs < d.oldestCreatedMs) {
      d.oldestCreatedMs = c.oldestCreatedMs;
    }
    d.requests += c.requests;
    d.successes += c.successes;
    d.failures += c.failures;
    addStatusClasses(d, c);
    d.spend += c.spend;
    d.latencySum += c.latencySum;
    if (c.maxLatency !== null && (d.maxLatency === null || c.maxLatency > d.maxLatency)) d.maxLatency = c.maxLatency;
    for (const a of c.latencies) d.latencies.push(a);
    for (const h of c.histograms) d.histograms.push(h);
  }
  return [...out.values()];
}

function emptyCell(kind: 'agent' | 'gateway', tenantId: string, entity: string, vendorId: string, bucket: number, created: number): FoldCell {
  return {
    kind,
    tenantId,
    entity,
    vendorId,
    bucket,
    requests: 0,
    successes: 0,
    failures: 0,
    status2xx: 0,
    status3xx: 0,
    status4xx: 0,
    status5xx: 0,
    paymentsVerified: 0,
    spend: 0n,
    latencySum: 0,
    maxLatency: null,
    latencies: [],
    histograms: [],
    oldestCreatedMs: created,
  };
}

/**
 * "12,7,300" → [12, 7, 300]: one pass, no intermediate strings. A negative value (refused by
 * writePendingTallies, but SQL writers are not checked) reads as 0: a row that could never
 * be folded would stop every later round behind it.
 */
function parseLatencies(text: string): number[] {
  const out: number[] = [];
  let v = 0;
  let negative = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out.push(negative ? 0 : v);
      v = 0;
      negative = false;
    } else if (c === 45) {
      negative = true;
    } else {
      v = v * 10 + (c - 48);
    }
  }
  out.push(negative ? 0 : v);
  return out;
}
