import { newLatencyHistogram, type LatencyHistogram } from './latency-histogram.js';
import { recordLatencies, type MinuteCell, type RollupCounts } from './minute-cells.js';

export const HOUR_MS = 3_600_000;
/**
 * Past this many raw latencies a tally folds them into a histogram of its own: below it the
 * raw arrays are smaller than a histogram (8 bytes a value against 8–56 KiB), above it the
 * histogram is, and it stops growing. Keeps a delta that waits for PostgreSQL bounded.
 */
const FOLD_AT = 4096;

/** Counts and latencies of one vendor within one (hour, entity). */
export interface VendorTally extends RollupCounts {
  /** Latency arrays not yet in `histogram` (see FOLD_AT). */
  raw: number[][];
  rawCount: number;
  histogram: LatencyHistogram | null;
}

/** What one flush (or several coalesced ones) adds to one row of agent_stats_hourly / gateway_stats_hourly. */
export interface HourDelta {
  readonly kind: 'agent' | 'gateway';
  /** Epoch ms of the UTC hour start. */
  readonly bucket: number;
  readonly tenantId: string;
  readonly entity: string;
  /** Per vendor; the row's totals are their sum. */
  readonly vendors: Map<string, VendorTally>;
  /** Oldest openedAt of the cells folded in: the flush lag is measured from it. */
  oldestOpenedAt: number;
}

/** Records everything a tally holds into `h` (its histogram, then its raw latencies). */
export function addTallyLatencies(h: LatencyHistogram, t: VendorTally): void {
  if (t.histogram !== null) h.add(t.histogram);
  recordLatencies(h, t.raw);
}

/**
 * Minute cells folded into hour rows, per (kind, hour, tenant, entity) and vendor. Raw
 * latency arrays are moved, not copied: a sealed cell (or a coalesced delta) is never used
 * again.
 */
export class HourDeltas {
  readonly byKey = new Map<string, HourDelta>();

  get size(): number {
    return this.byKey.size;
  }

  addCell(cell: MinuteCell): void {
    const bucket = Math.floor(cell.minute / HOUR_MS) * HOUR_MS;
    const delta = this.deltaFor(cell.kind, bucket, cell.tenantId, cell.entity, cell.openedAt);
    mergeTally(delta.vendors, cell.vendorId, {
      requests: cell.requests,
      successes: cell.successes,
      failures: cell.failures,
      spend: cell.spend,
      latencySum: cell.latencySum,
      maxLatency: cell.maxLatency,
      raw: cell.latencies,
      rawCount: cell.requests,
      histogram: null,
    });
  }

  /** Folds another delta in (coalescing flushes that were never attempted); takes its contents over. */
  addDelta(other: HourDelta): void {
    const delta = this.deltaFor(other.kind, other.bucket, other.tenantId, other.entity, other.oldestOpenedAt);
    for (const [vendor, tally] of other.vendors) mergeTally(delta.vendors, vendor, tally);
  }

  /** Deltas in a stable order (the order the database locks rows in is its own ORDER BY). */
  sorted(): HourDelta[] {
    return [...this.byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
  }

  private deltaFor(kind: 'agent' | 'gateway', bucket: number, tenantId: string, entity: string, openedAt: number): HourDelta {
    const key = `${kind}\u0000${bucket}\u0000${tenantId}\u0000${entity}`;
    let delta = this.byKey.get(key);
    if (delta === undefined) {
      delta = { kind, bucket, tenantId, entity, vendors: new Map(), oldestOpenedAt: openedAt };
      this.byKey.set(key, delta);
    } else if (openedAt < delta.oldestOpenedAt) {
      delta.oldestOpenedAt = openedAt;
    }
    return delta;
  }
}

function mergeTally(vendors: Map<string, VendorTally>, vendor: string, from: VendorTally): void {
  let t = vendors.get(vendor);
  if (t === undefined) {
    t = {
      requests: from.requests,
      successes: from.successes,
      failures: from.failures,
      spend: from.spend,
      latencySum: from.latencySum,
      maxLatency: from.maxLatency,
      raw: from.raw,
      rawCount: from.rawCount,
      histogram: from.histogram,
    };
    vendors.set(vendor, t);
  } else {
    t.requests += from.requests;
    t.successes += from.successes;
    t.failures += from.failures;
    t.spend += from.spend;
    t.latencySum += from.latencySum;
    if (from.maxLatency > t.maxLatency) t.maxLatency = from.maxLatency;
    for (const a of from.raw) t.raw.push(a);
    t.rawCount += from.rawCount;
    if (from.histogram !== null) {
      if (t.histogram === null) t.histogram = from.histogram;
      else t.histogram.add(from.histogram);
    }
  }
  if (t.rawCount > FOLD_AT) {
    t.histogram ??= newLatencyHistogram();
    recordLatencies(t.histogram, t.raw);
    t.raw = [];
    t.rawCount = 0;
  }
}
