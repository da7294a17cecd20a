import { decodeFromCompressedBase64, encodeIntoCompressedBase64, Float64Histogram, Int32Histogram, type JsHistogram } from 'hdr-histogram-js';

/**
 * The one place that fixes how latencies are bucketed, so every histogram the module writes
 * merges exactly with every other (same lowest value and precision).
 *
 * Precision: 3 significant digits. Values 0–2047 ms are kept exactly; a larger value v sits
 * in a bucket of width 2^k where 1024·2^k ≤ v, so it is known to within v/1024 (< 0.1%).
 * Percentiles are nearest-rank (the ⌈p·N⌉-th smallest value) and report the upper bound of
 * that value's bucket: never below the exact percentile, above it by less than 1/1024 of it.
 * Values above 1 h are recorded as 1 h (HIGHEST_LATENCY_MS); the max columns stay exact.
 *
 * Build: the pure-JS Int32Histogram, not the WASM one. Recording costs ≈150 ns here against
 * ≈90 ns for WASM, i.e. 6 ms against 4 ms per second at 40,000 latencies/s; WASM histograms
 * live outside the JS heap and leak unless destroy()ed, which one missed path would turn into
 * an unbounded leak. Histograms start at the smallest array with full precision (2048
 * counts, 8 KiB) and grow with the largest value seen (auto-resize), up to 14 buckets (56 KiB)
 * at one hour, so memory follows the data, not the worst case.
 */
export const LOWEST_LATENCY_MS = 1;
export const HIGHEST_LATENCY_MS = 3_600_000;
export const SIGNIFICANT_DIGITS = 3;
/** Smallest highest-trackable value that keeps the full 2048 sub-buckets: one bucket, 8 KiB. */
const INITIAL_HIGHEST_MS = 2048;

export type LatencyHistogram = JsHistogram;

/** A histogram for one key's minute or hour. 32-bit counts: 2^31 latencies of one value per key and hour is far beyond any load. */
export function newLatencyHistogram(): LatencyHistogram {
  const h = new Int32Histogram(LOWEST_LATENCY_MS, INITIAL_HIGHEST_MS, SIGNIFICANT_DIGITS);
  h.autoResize = true;
  return h;
}

/** A histogram for merging any number of windows (days, receivers): 64-bit float counts, exact to 2^53. */
export function newMergeHistogram(): LatencyHistogram {
  const h = new Float64Histogram(LOWEST_LATENCY_MS, INITIAL_HIGHEST_MS, SIGNIFICANT_DIGITS);
  h.autoResize = true;
  return h;
}

/** HdrHistogram V2 compressed encoding, base64: what every HdrHistogram library reads. */
export function encodeHistogram(h: LatencyHistogram): string {
  return encodeIntoCompressedBase64(h);
}

/** Decodes one encoded histogram into a fresh mergeable histogram (throws on bytes that are not one). */
export function decodeHistogram(encoded: string): LatencyHistogram {
  const out = newMergeHistogram();
  out.add(decodeFromCompressedBase64(encoded, 64) as LatencyHistogram);
  return out;
}

/** Merges encoded histograms exactly (e.g. the rows of a day): the basis of any p99 over a window. */
export function mergeEncodedHistograms(encoded: Iterable<string>): LatencyHistogram {
  const out = newMergeHistogram();
  for (const e of encoded) out.add(decodeFromCompressedBase64(e, 64) as LatencyHistogram);
  return out;
}

export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p99: number;
}

/** 0 for an empty histogram (a spend-only row). */
export function percentiles(h: LatencyHistogram): LatencyPercentiles {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0 };
  return { p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99) };
}

/**
 * The non-empty buckets as parallel arrays: each bucket's upper bound (what HDR reports for a
 * percentile that lands in it) and its count. The same histogram, in a shape SQL can sum
 * (ClickHouse sumMap) and rank (quantileExactWeighted).
 */
export function nonEmptyBuckets(h: LatencyHistogram): { values: number[]; counts: number[] } {
  const values: number[] = [];
  const counts: number[] = [];
  const n = h.countsArrayLength;
  for (let i = 0; i < n; i++) {
    const c = h.getCountAtIndex(i);
    if (c > 0) {
      values.push(h.highestEquivalentValue(h.valueFromIndex(i)));
      counts.push(c);
    }
  }
  return { values, counts };
}

/**
 * How far above `exact` a percentile read from these histograms may be: 0 below 2048 ms,
 * otherwise less than exact/1024. For tests and for dashboards that print an error bar.
 */
export function precisionBound(exact: number): number {
  const v = Math.min(exact, HIGHEST_LATENCY_MS);
  if (v < 2048) return 0;
  return 2 ** (Math.floor(Math.log2(v)) - 10) - 1;
}
