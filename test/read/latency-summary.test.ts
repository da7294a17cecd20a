/**
 * The read side's percentiles (src/read/latency-summary.ts) against HDR's own
 * getValueAtPercentile over one histogram of all the values: one encoding (read from its
 * pairs), several, raw pending latencies, encodings written by the library's real deflate
 * and with other precision settings, and bytes that are no histogram. No services needed.
 */
import fc from 'fast-check';
import { encodeIntoCompressedBase64, Float64Histogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { LatencyMerger, newTotalHistogram } from '../../src/read/latency-summary.js';
import { encodeHistogram, HIGHEST_LATENCY_MS, newMergeHistogram, type LatencyHistogram } from '../../src/rollups/index.js';

const latency = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 2047 }), weight: 4 },
  { arbitrary: fc.integer({ min: 2048, max: HIGHEST_LATENCY_MS }), weight: 1 },
);
const values = fc.array(latency, { minLength: 1, maxLength: 200 });

function histogramOf(vs: readonly number[]): LatencyHistogram {
  const h = newMergeHistogram();
  for (const v of vs) h.recordValue(v);
  return h;
}

function expected(all: readonly number[]): { p50: number; p99: number } {
  const h = histogramOf(all);
  return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99) };
}

describe('LatencyMerger', () => {
  it('reads one encoding from its pairs exactly as HDR reads the histogram, and adds it to the total', () => {
    fc.assert(
      fc.property(fc.array(values, { minLength: 1, maxLength: 6 }), (buckets) => {
        const merger = new LatencyMerger();
        const total = newTotalHistogram();
        for (const vs of buckets) expect(merger.figures([encodeHistogram(histogramOf(vs))], null, total)).toEqual(expected(vs));
        const all = buckets.flat();
        expect(LatencyMerger.read(total)).toEqual(expected(all));
        expect(total.totalCount).toBe(all.length);
      }),
      { numRuns: 200 },
    );
  });

  it('merges several encodings and raw latencies of one bucket exactly', () => {
    fc.assert(
      fc.property(fc.array(values, { minLength: 2, maxLength: 4 }), values, (parts, raw) => {
        const merger = new LatencyMerger();
        const total = newTotalHistogram();
        const encodings = parts.map((vs) => encodeHistogram(histogramOf(vs)));
        expect(merger.figures(encodings, raw.join(','), total)).toEqual(expected([...parts.flat(), ...raw]));
        expect(LatencyMerger.read(total)).toEqual(expected([...parts.flat(), ...raw]));
        // The scratch histogram is reset between buckets: a single encoding after a merged bucket reads alone.
        expect(merger.figures([encodings[0] as string], null)).toEqual(expected(parts[0] as number[]));
      }),
      { numRuns: 100 },
    );
  });

  it('takes the library deflated form and other precision settings; skips bytes that are no histogram', () => {
    const vs = [3, 17, 17, 250, 4100, 90_000];
    const deflated = encodeIntoCompressedBase64(histogramOf(vs));
    const twoDigits = new Float64Histogram(1, 2048, 2);
    twoDigits.autoResize = true;
    for (const v of vs) twoDigits.recordValue(v);
    const merger = new LatencyMerger();
    expect(merger.figures([deflated], null)).toEqual(expected(vs));
    // Merged value by value: exact to the coarser histogram's own buckets.
    const coarse = merger.figures([encodeIntoCompressedBase64(twoDigits)], null);
    for (const [got, p] of [[coarse.p50, 50], [coarse.p99, 99]] as const) {
      const want = twoDigits.getValueAtPercentile(p);
      expect(got).toBeGreaterThanOrEqual(twoDigits.lowestEquivalentValue(want));
      expect(got).toBeLessThanOrEqual(want);
    }
    expect(merger.figures(['bm90IGEgaGlzdG9ncmFt'], null)).toEqual({ p50: null, p99: null });
    expect(merger.figures(['bm90IGEgaGlzdG9ncmFt', encodeHistogram(histogramOf(vs))], null)).toEqual(expected(vs));
    expect(merger.undecodable).toBe(2);
  });
});
