import type { FoldCell } from './fold-cells.js';
import { addEncodedHistogram, decodeHistogram, encodeHistogram, newMergeHistogram, type LatencyHistogram } from './latency-histogram.js';
import { recordLatencies } from './minute-cells.js';

/** A row of agent_stats_minute / _daily or gateway_stats_minute / _daily as read under FOR UPDATE (int64 and numeric as text). */
export interface StoredBucketRow {
  total_requests: string;
  successful_requests: string;
  failed_requests: string;
  total_spend_atomic: string;
  latency_sum_ms: string;
  max_latency_ms: number | null;
  latency_histogram: string | null;
}

/** Select-list of the stored row, for the lock statement. */
export const BUCKET_ROW_READ = `t.total_requests::text AS total_requests, t.successful_requests::text AS successful_requests,
  t.failed_requests::text AS failed_requests, t.total_spend_atomic::text AS total_spend_atomic,
  t.latency_sum_ms::text AS latency_sum_ms, t.max_latency_ms, t.latency_histogram`;

/** Value columns written back, in the order merge() returns them. */
export const BUCKET_ROW_VALUES = [
  ['total_requests', 'bigint'],
  ['successful_requests', 'bigint'],
  ['failed_requests', 'bigint'],
  ['total_spend_atomic', 'numeric'],
  ['latency_sum_ms', 'bigint'],
  ['max_latency_ms', 'int'],
  ['latency_histogram', 'text'],
] as const;

/**
 * Stored bucket row + folded cell → new row, exactly: counts, spend and latency sums add as
 * BigInt, the max takes the larger, the histogram is the stored one plus the cell's
 * latencies (recorded with the module's settings, minute-cells.ts recordLatencies) and
 * histograms. One scratch histogram is reused from row to row.
 */
export class BucketRowMerger {
  /** Stored histograms that did not decode: their counts stay, their latencies are lost to the percentiles. */
  undecodable = 0;
  private readonly scratch = newMergeHistogram();

  merge(stored: StoredBucketRow | undefined, cell: FoldCell): (string | number | null)[] {
    const h = this.load(stored?.latency_histogram ?? null);
    recordLatencies(h, cell.latencies);
    for (const e of cell.histograms) {
      // Decoded apart first: a bad encoding then adds nothing at all.
      try {
        h.add(decodeHistogram(e));
      } catch {
        this.undecodable++;
      }
    }
    const storedMax = stored?.max_latency_ms ?? null;
    const max = storedMax === null ? cell.maxLatency : cell.maxLatency === null ? storedMax : Math.max(storedMax, cell.maxLatency);
    return [
      (toBigInt(stored?.total_requests) + BigInt(cell.requests)).toString(),
      (toBigInt(stored?.successful_requests) + BigInt(cell.successes)).toString(),
      (toBigInt(stored?.failed_requests) + BigInt(cell.failures)).toString(),
      (toBigInt(stored?.total_spend_atomic) + cell.spend).toString(),
      (toBigInt(stored?.latency_sum_ms) + BigInt(cell.latencySum)).toString(),
      max,
      h.totalCount === 0 ? null : encodeHistogram(h),
    ];
  }

  private load(encoded: string | null): LatencyHistogram {
    this.scratch.reset();
    if (encoded === null || encoded === '') return this.scratch;
    try {
      addEncodedHistogram(this.scratch, encoded);
    } catch {
      this.undecodable++;
      // A half-read encoding may have added some counts: start again from nothing.
      this.scratch.reset();
    }
    return this.scratch;
  }
}

function toBigInt(v: string | undefined): bigint {
  return v === undefined || v === '' ? 0n : BigInt(v);
}
