import { addTallyLatencies, type HourDelta, type VendorTally } from './hour-deltas.js';
import { addEncodedHistogram, encodeAndDescribe, newMergeHistogram, type LatencyHistogram } from './latency-histogram.js';

/** One row of agent_stats_hourly / gateway_stats_hourly as read under FOR UPDATE (numbers as text: int64 and numeric stay exact). */
export interface StoredHourRow {
  total_requests: string;
  successful_requests: string;
  failed_requests: string;
  total_spend_atomic: string;
  latency_sum_ms: string;
  max_latency_ms: number | null;
  latency_histogram: string | null;
  vendor_breakdown: string | null;
}

/** A vendor's entry in vendor_breakdown: the row's own fields, for that vendor alone. */
export interface VendorBreakdownEntry {
  requests: number;
  successes: number;
  failures: number;
  /** Decimal string: exact beyond 2^53. */
  spend_atomic: string;
  latency_sum_ms: number;
  avg_latency_ms: number | null;
  p50_latency_ms: number | null;
  p90_latency_ms: number | null;
  p99_latency_ms: number | null;
  max_latency_ms: number | null;
  /** HdrHistogram V2 compressed, base64. */
  latency_histogram: string | null;
}

/** The values written back: what the UPDATE sets. */
export interface MergedHourRow {
  totalRequests: string;
  successfulRequests: string;
  failedRequests: string;
  totalSpendAtomic: string;
  latencySumMs: string;
  avgLatencyMs: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  maxLatencyMs: number | null;
  latencyHistogram: string;
  vendorBreakdown: string;
}

export interface MergeProblems {
  /** Stored histograms that did not decode: their counts stay, their latencies are lost to the percentiles. */
  undecodable: number;
}

/**
 * Stored row + delta → new row, exactly: counts and spend add (BigInt), maxima take the
 * larger, histograms merge bucket by bucket. The row's histogram is its stored one plus every
 * vendor's delta.
 *
 * Two scratch histograms are reused from row to row (reset, not reallocated): a flush merges
 * hundreds of rows with several vendors each, and a fresh 16–112 KiB histogram per vendor
 * and row was most of the garbage the collector then had to clear.
 */
export class HourRowMerger {
  readonly problems: MergeProblems = { undecodable: 0 };
  private readonly total = newMergeHistogram();
  private readonly vendor = newMergeHistogram();

  merge(stored: StoredHourRow | undefined, delta: HourDelta): MergedHourRow {
    const vendors = parseBreakdown(stored?.vendor_breakdown ?? null);
    const total = this.loadInto(this.total, stored?.latency_histogram ?? null);
    let requests = toBigInt(stored?.total_requests);
    let successes = toBigInt(stored?.successful_requests);
    let failures = toBigInt(stored?.failed_requests);
    let spend = toBigInt(stored?.total_spend_atomic);
    let latencySum = toBigInt(stored?.latency_sum_ms);
    let max = stored?.max_latency_ms ?? null;

    for (const [vendor, t] of delta.vendors) {
      requests += BigInt(t.requests);
      successes += BigInt(t.successes);
      failures += BigInt(t.failures);
      spend += t.spend;
      latencySum += BigInt(t.latencySum);
      if (max === null || t.maxLatency > max) max = t.maxLatency;
      addTallyLatencies(total, t);
      vendors[vendor] = this.mergeVendor(vendors[vendor], t);
    }
    const d = encodeAndDescribe(total, false);
    const empty = total.totalCount === 0;
    return {
      totalRequests: requests.toString(),
      successfulRequests: successes.toString(),
      failedRequests: failures.toString(),
      totalSpendAtomic: spend.toString(),
      latencySumMs: latencySum.toString(),
      avgLatencyMs: requests > 0n ? Number(latencySum) / Number(requests) : null,
      p50: empty ? null : d.p50,
      p90: empty ? null : d.p90,
      p99: empty ? null : d.p99,
      maxLatencyMs: max,
      latencyHistogram: d.encoded,
      vendorBreakdown: JSON.stringify(vendors),
    };
  }

  private mergeVendor(old: VendorBreakdownEntry | undefined, t: VendorTally): VendorBreakdownEntry {
    const h = this.loadInto(this.vendor, old?.latency_histogram ?? null);
    addTallyLatencies(h, t);
    const requests = (old?.requests ?? 0) + t.requests;
    const latencySum = (old?.latency_sum_ms ?? 0) + t.latencySum;
    const d = encodeAndDescribe(h, false);
    const empty = h.totalCount === 0;
    const oldMax = old?.max_latency_ms ?? null;
    return {
      requests,
      successes: (old?.successes ?? 0) + t.successes,
      failures: (old?.failures ?? 0) + t.failures,
      spend_atomic: (toBigInt(old?.spend_atomic) + t.spend).toString(),
      latency_sum_ms: latencySum,
      avg_latency_ms: requests > 0 ? latencySum / requests : null,
      p50_latency_ms: empty ? null : d.p50,
      p90_latency_ms: empty ? null : d.p90,
      p99_latency_ms: empty ? null : d.p99,
      max_latency_ms: oldMax === null || t.maxLatency > oldMax ? t.maxLatency : oldMax,
      latency_histogram: d.encoded,
    };
  }

  /** `scratch`, emptied, holding the stored histogram (or nothing, if there is none or it does not decode). */
  private loadInto(scratch: LatencyHistogram, encoded: string | null): LatencyHistogram {
    scratch.reset();
    if (encoded === null || encoded === '') return scratch;
    try {
      addEncodedHistogram(scratch, encoded);
    } catch {
      this.problems.undecodable++;
      // A half-read encoding may have added some counts: start again from nothing.
      scratch.reset();
    }
    return scratch;
  }
}

/** vendor_breakdown as stored; anything that is not an object of objects (e.g. written by another tool) reads as empty. */
function parseBreakdown(text: string | null): Record<string, VendorBreakdownEntry> {
  if (text === null) return Object.create(null) as Record<string, VendorBreakdownEntry>;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const out = Object.create(null) as Record<string, VendorBreakdownEntry>;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return out;
  for (const [vendor, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'object' || v === null) continue;
    const e = v as Record<string, unknown>;
    // Vendors this delta does not touch are written back as they were read.
    out[vendor] = {
      requests: num(e.requests),
      successes: num(e.successes),
      failures: num(e.failures),
      spend_atomic: typeof e.spend_atomic === 'string' || typeof e.spend_atomic === 'number' ? String(e.spend_atomic) : '0',
      latency_sum_ms: num(e.latency_sum_ms),
      avg_latency_ms: numOrNull(e.avg_latency_ms),
      p50_latency_ms: numOrNull(e.p50_latency_ms),
      p90_latency_ms: numOrNull(e.p90_latency_ms),
      p99_latency_ms: numOrNull(e.p99_latency_ms),
      max_latency_ms: numOrNull(e.max_latency_ms),
      latency_histogram: typeof e.latency_histogram === 'string' ? e.latency_histogram : null,
    };
  }
  return out;
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function toBigInt(v: string | undefined | null): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  try {
    return BigInt(v);
  } catch {
    return 0n;
  }
}
