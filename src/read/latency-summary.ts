import { addEncodedHistogram, HIGHEST_LATENCY_MS, newMergeHistogram, type LatencyHistogram } from '../rollups/index.js';

export interface LatencyFigures {
  p50: number | null;
  p99: number | null;
}

/**
 * Merges the HDR histograms of a bucket or vendor exactly and reads nearest-rank p50/p99
 * from the merge (never percentiles of percentiles). One scratch histogram is reset and
 * reused across the buckets of a request; `total`, when given, collects every histogram
 * for the window's own percentiles. Pending tallies bring raw latencies instead, recorded
 * into the same histograms. An encoding that does not decode is skipped: its counts still
 * count, its latencies cannot.
 */
export class LatencyMerger {
  private readonly scratch = newMergeHistogram();
  undecodable = 0;

  figures(encodings: readonly string[], raw: string | null, total?: LatencyHistogram): LatencyFigures {
    if (encodings.length === 0 && raw === null) return { p50: null, p99: null };
    const h = this.scratch;
    h.reset();
    for (const e of encodings) {
      if (!this.add(h, e)) continue;
      if (total !== undefined) this.add(total, e);
    }
    if (raw !== null) {
      recordRaw(h, raw);
      if (total !== undefined) recordRaw(total, raw);
    }
    return LatencyMerger.read(h);
  }

  /**
   * Nearest-rank p50 and p99 as HDR's getValueAtPercentile reports them (the upper bound of
   * the bucket where the running count reaches the rank). One pass that stops at p99 and
   * maps an index to its value only where a rank is crossed: the rollups' describe() maps
   * every non-empty bucket and took ~200 µs per histogram, most of a 7-day chart's time.
   */
  static read(h: LatencyHistogram): LatencyFigures {
    const total = h.totalCount;
    if (total === 0) return { p50: null, p99: null };
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

  private add(h: LatencyHistogram, encoded: string): boolean {
    try {
      addEncodedHistogram(h, encoded);
      return true;
    } catch {
      this.undecodable++;
      return false;
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
