import type { LatencyHistogram } from './latency-histogram.js';
import type { MinuteCell } from './minute-cells.js';

export const HOUR_MS = 3_600_000;

/** Counts and histogram of one vendor within one (hour, entity). */
export interface VendorTally {
  requests: number;
  successes: number;
  failures: number;
  spend: bigint;
  latencySum: number;
  maxLatency: number;
  histogram: LatencyHistogram;
}

/** What one flush (or several coalesced ones) adds to one row of agent_stats_hourly / gateway_stats_hourly. */
export interface HourDelta {
  readonly kind: 'agent' | 'gateway';
  /** Epoch ms of the UTC hour start. */
  readonly bucket: number;
  readonly tenantId: string;
  readonly entity: string;
  /** Per vendor; the row's totals are their sum (kept once, not twice, to halve the histograms held). */
  readonly vendors: Map<string, VendorTally>;
  /** Oldest openedAt of the cells folded in: the flush lag is measured from it. */
  oldestOpenedAt: number;
}

/**
 * Minute cells folded into hour rows, per (kind, hour, tenant, entity) and vendor. Histograms
 * are taken over, not copied: a sealed cell (or a coalesced delta) is never used again, and
 * this saves an 8 KiB allocation per key and flush.
 */
export class HourDeltas {
  readonly byKey = new Map<string, HourDelta>();

  get size(): number {
    return this.byKey.size;
  }

  /** Folds a sealed cell in; the cell's histogram now belongs to this object. */
  addCell(cell: MinuteCell): void {
    const bucket = Math.floor(cell.minute / HOUR_MS) * HOUR_MS;
    const delta = this.deltaFor(cell.kind, bucket, cell.tenantId, cell.entity, cell.openedAt);
    mergeTally(delta.vendors, cell.vendorId, cell);
  }

  /** Folds another delta in (coalescing flushes that were never attempted); takes its histograms over. */
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
  const t = vendors.get(vendor);
  if (t === undefined) {
    vendors.set(vendor, {
      requests: from.requests,
      successes: from.successes,
      failures: from.failures,
      spend: from.spend,
      latencySum: from.latencySum,
      maxLatency: from.maxLatency,
      histogram: from.histogram,
    });
    return;
  }
  t.requests += from.requests;
  t.successes += from.successes;
  t.failures += from.failures;
  t.spend += from.spend;
  t.latencySum += from.latencySum;
  if (from.maxLatency > t.maxLatency) t.maxLatency = from.maxLatency;
  t.histogram.add(from.histogram);
}
