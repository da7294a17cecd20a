import {
  addDecodedCounts,
  addEncodedHistogram,
  decodedCounts,
  HIGHEST_LATENCY_MS,
  newMergeHistogram,
  readEncodedCounts,
  valueAtIndex,
  type LatencyHistogram,
} from '../rollups/index.js';

export interface LatencyFigures {
  p50: number | null;
  p99: number | null;
}

const NO_LATENCY: LatencyFigures = { p50: null, p99: null };

/**
 * Merges the HDR histograms of a bucket or vendor exactly and reads nearest-rank p50/p99
 * from the merge (never percentiles of percentiles); `total`, when given, collects every
 * histogram for the window's own percentiles (each encoding is decoded once for both).
 * Pending tallies bring raw latencies instead, recorded into the same histograms. An
 * encoding that does not decode is skipped: its counts still count, its latencies cannot.
 *
 * Most buckets of a long window hold one folded histogram and nothing else: its percentiles
 * are read from its decoded (index, count) pairs directly. Anything else is merged into one
 * scratch histogram, reset and reused across the buckets of a request (a reset clears its
 * whole counts array, which for a week of hourly buckets cost more than the decoding).
 */
export class LatencyMerger {
  private readonly scratch = newMergeHistogram();
  undecodable = 0;

  figures(encodings: readonly string[], raw: string | null, total?: LatencyHistogram): LatencyFigures {
    if (encodings.length === 0 && raw === null) return NO_LATENCY;
    if (encodings.length === 1 && raw === null) {
      const single = this.single(encodings[0] as string, total);
      if (single !== null) return single;
    }
    const h = this.scratch;
    h.reset();
    for (const e of encodings) this.add(h, e, total);
    if (raw !== null) {
      recordRaw(h, raw);
      if (total !== undefined) recordRaw(total, raw);
    }
    return LatencyMerger.read(h);
  }

  /** One encoding's percentiles from its pairs; null when it has other precision settings (the scratch path merges it). */
  private single(encoded: string, total: LatencyHistogram | undefined): LatencyFigures | null {
    try {
      if (!readEncodedCounts(encoded)) return null;
    } catch {
      this.undecodable++;
      return NO_LATENCY;
    }
    if (total !== undefined) addDecodedCounts(total);
    const { indices, counts, length } = decodedCounts;
    let n = 0;
    for (let i = 0; i < length; i++) n += counts[i] as number;
    if (n === 0) return NO_LATENCY;
    const r50 = rank(50, n);
    const r99 = rank(99, n);
    let p50: number | null = null;
    let seen = 0;
    for (let i = 0; i < length; i++) {
      seen += counts[i] as number;
      if (p50 === null && seen >= r50) p50 = valueAtIndex(indices[i] as number);
      if (seen >= r99) return { p50, p99: valueAtIndex(indices[i] as number) };
    }
    return { p50, p99: null };
  }

  /**
   * Nearest-rank p50 and p99 as HDR's getValueAtPercentile reports them (the upper bound of
   * the bucket where the running count reaches the rank). One pass that stops at p99 and
   * maps an index to its value only where a rank is crossed: the rollups' describe() maps
   * every non-empty bucket and took ~200 µs per histogram, most of a 7-day chart's time.
   */
  static read(h: LatencyHistogram): LatencyFigures {
    const total = h.totalCount;
    if (total === 0) return NO_LATENCY;
    const r50 = rank(50, total);
    const r99 = rank(99, total);
    let p50: number | null = null;
    let seen = 0;
    const limit = h.countsArrayIndex(h.maxValue) + 1;
    for (let i = 0; i < limit; i++) {
      const c = h.getCountAtIndex(i);
      if (c === 0) continue;
      seen += c;
      if (p50 === null && seen >= r50) p50 = h.highestEquivalentValue(h.valueFromIndex(i));
      if (seen >= r99) return { p50, p99: h.highestEquivalentValue(h.valueFromIndex(i)) };
    }
    return { p50, p99: null };
  }

  private add(h: LatencyHistogram, encoded: string, total: LatencyHistogram | undefined): void {
    try {
      addEncodedHistogram(h, encoded, total);
    } catch {
      this.undecodable++;
    }
  }
}

/** The count HDR's getValueAtPercentile ranks at (the ulp keeps 0.99 × 100 at 99, not 100). */
function rank(percentile: number, total: number): number {
  const fp = (percentile / 100) * total;
  return Math.max(Math.ceil(fp - 2 ** (Math.floor(Math.log2(fp)) - 52)), 1);
}

/** Raw latencies of pending tallies ("12,40,7"), recorded as the rollups record them (capped at one hour). */
function recordRaw(h: LatencyHistogram, list: string): void {
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= list.length; i++) {
    const c = i < list.length ? list.charCodeAt(i) : 44;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
    } else if (c === 44) {
      if (digits > 0) h.recordValue(Math.min(v, HIGHEST_LATENCY_MS));
      v = 0;
      digits = 0;
    }
  }
}

export function newTotalHistogram(): LatencyHistogram {
  return newMergeHistogram();
}
