import { addEncodedHistogram, newMergeHistogram, percentiles, type LatencyHistogram } from '../rollups/index.js';

export interface LatencyFigures {
  p50: number | null;
  p99: number | null;
}

/**
 * Merges the HDR histograms of a bucket or vendor exactly and reads nearest-rank p50/p99
 * from the merge (never percentiles of percentiles). One scratch histogram is reset and
 * reused across the buckets of a request; `total`, when given, collects every histogram
 * for the window's own percentiles. An encoding that does not decode is skipped: its
 * counts still count, its latencies cannot.
 */
export class LatencyMerger {
  private readonly scratch = newMergeHistogram();
  undecodable = 0;

  figures(encodings: readonly string[], total?: LatencyHistogram): LatencyFigures {
    if (encodings.length === 0) return { p50: null, p99: null };
    const h = this.scratch;
    h.reset();
    for (const e of encodings) {
      if (!this.add(h, e)) continue;
      if (total !== undefined) this.add(total, e);
    }
    return LatencyMerger.read(h);
  }

  static read(h: LatencyHistogram): LatencyFigures {
    if (h.totalCount === 0) return { p50: null, p99: null };
    const p = percentiles(h);
    return { p50: p.p50, p99: p.p99 };
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

export function newTotalHistogram(): LatencyHistogram {
  return newMergeHistogram();
}
