import { Float64Histogram, Int32Histogram, type JsHistogram } from 'hdr-histogram-js';
import { addDecodedCounts, addEncoded, decodedCounts, encodeCompressedBase64, readCounts } from './hdr-codec.js';

export { addDecodedCounts, decodedCounts };

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

/** HdrHistogram V2 compressed encoding, base64 (`HISTF…`): what every HdrHistogram library reads (hdr-codec.ts). */
export function encodeHistogram(h: LatencyHistogram): string {
  return encodeCompressedBase64(h);
}

/** Decodes one encoded histogram into a fresh mergeable histogram (throws on bytes that are not one). */
export function decodeHistogram(encoded: string): LatencyHistogram {
  const out = newMergeHistogram();
  addEncoded(out, encoded);
  return out;
}

/** Adds an encoded histogram's counts into `target`, exactly, and into `alsoInto` when given. */
export function addEncodedHistogram(target: LatencyHistogram, encoded: string, alsoInto?: LatencyHistogram): void {
  addEncoded(target, encoded, alsoInto);
}

/** Maps indices to values for readEncodedCounts: every histogram of ours has this layout. */
const LAYOUT = newMergeHistogram();

/**
 * Reads the non-zero (index, count) pairs of an encoded histogram into `decodedCounts`
 * without building a histogram (LAYOUT's valueFromIndex gives their values); false, reading
 * nothing, for an encoding with other precision settings. Throws on bytes that are not one.
 */
export function readEncodedCounts(encoded: string): boolean {
  return readCounts(encoded, LAYOUT);
}

/** The value HDR reports for a count at `index` (the upper bound of its bucket). */
export function valueAtIndex(index: number): number {
  return LAYOUT.highestEquivalentValue(LAYOUT.valueFromIndex(index));
}

/** Merges encoded histograms exactly (e.g. the rows of a day): the basis of any p99 over a window. */
export function mergeEncodedHistograms(encoded: Iterable<string>): LatencyHistogram {
  const out = newMergeHistogram();
  for (const e of encoded) addEncoded(out, e);
  return out;
}

export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p99: number;
}

/** 0 for an empty histogram (a spend-only row). */
export function percentiles(h: LatencyHistogram): LatencyPercentiles {
  const d = describe(h);
  return { p50: d.p50, p90: d.p90, p99: d.p99 };
}

export interface HistogramDescription extends LatencyPercentiles {
  /** Upper bound of each non-empty bucket (what HDR reports for a percentile landing in it), ascending. */
  values: number[];
  counts: number[];
}

/**
 * Percentiles and non-empty buckets in one pass over the counts (the library walks them once
 * per percentile). The buckets are the histogram in a shape SQL can sum (ClickHouse sumMap)
 * and rank (quantileExactWeighted). Percentiles follow getValueAtPercentile exactly: the
 * bucket where the running count first reaches max(1, ⌈p/100·N − ulp⌉), reported as its
 * upper bound.
 */
export function describe(h: LatencyHistogram): HistogramDescription {
  const values: number[] = [];
  const counts: number[] = [];
  const total = h.totalCount;
  if (total === 0) return { p50: 0, p90: 0, p99: 0, values, counts };
  const r50 = rank(50, total);
  const r90 = rank(90, total);
  const r99 = rank(99, total);
  let p50 = 0;
  let p90 = 0;
  let p99 = 0;
  let seen = 0;
  const limit = h.countsArrayIndex(h.maxValue) + 1;
  for (let i = 0; i < limit; i++) {
    const c = h.getCountAtIndex(i);
    if (c === 0) continue;
    const v = h.highestEquivalentValue(h.valueFromIndex(i));
    values.push(v);
    counts.push(c);
    const before = seen;
    seen += c;
    if (before < r50 && seen >= r50) p50 = v;
    if (before < r90 && seen >= r90) p90 = v;
    if (before < r99 && seen >= r99) p99 = v;
  }
  return { p50, p90, p99, values, counts };
}

export interface EncodedHistogram extends HistogramDescription {
  /** encodeHistogram(h). */
  encoded: string;
}

/**
 * encodeHistogram and describe in one pass over the counts (every row a flush writes needs
 * both). `withBuckets` false leaves values and counts empty, for callers that only want the
 * percentiles.
 */
export function encodeAndDescribe(h: LatencyHistogram, withBuckets: boolean): EncodedHistogram {
  const values: number[] = [];
  const counts: number[] = [];
  const total = h.totalCount;
  const r50 = total === 0 ? 0 : rank(50, total);
  const r90 = total === 0 ? 0 : rank(90, total);
  const r99 = total === 0 ? 0 : rank(99, total);
  let p50 = 0;
  let p90 = 0;
  let p99 = 0;
  let seen = 0;
  const encoded = encodeCompressedBase64(h, (index, count) => {
    const before = seen;
    seen += count;
    const crosses = (before < r50 && seen >= r50) || (before < r90 && seen >= r90) || (before < r99 && seen >= r99);
    if (!crosses && !withBuckets) return;
    const v = h.highestEquivalentValue(h.valueFromIndex(index));
    if (withBuckets) {
      values.push(v);
      counts.push(count);
    }
    if (before < r50 && seen >= r50) p50 = v;
    if (before < r90 && seen >= r90) p90 = v;
    if (before < r99 && seen >= r99) p99 = v;
  });
  return { encoded, p50, p90, p99, values, counts };
}

/** HDR's count at a percentile (JsHistogram.getValueAtPercentile): the ulp keeps 0.99 × 100 at 99, not 100. */
function rank(percentile: number, total: number): number {
  const fp = (percentile / 100) * total;
  return Math.max(Math.ceil(fp - 2 ** (Math.floor(Math.log2(fp)) - 52)), 1);
}

/** The non-empty buckets as parallel arrays (see describe). */
export function nonEmptyBuckets(h: LatencyHistogram): { values: number[]; counts: number[] } {
  const d = describe(h);
  return { values: d.values, counts: d.counts };
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
