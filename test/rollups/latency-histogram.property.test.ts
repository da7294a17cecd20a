/**
 * The histogram properties the rollups stand on: merging partial histograms equals one
 * histogram of all the data, the encoding round-trips, and every percentile read back is
 * within the documented precision of the exact nearest-rank percentile. No services needed.
 */
import fc from 'fast-check';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64, Int32Histogram, type JsHistogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import {
  describe as describeHistogram,
  decodeHistogram,
  encodeAndDescribe,
  encodeHistogram,
  HIGHEST_LATENCY_MS,
  mergeEncodedHistograms,
  newLatencyHistogram,
  newMergeHistogram,
  nonEmptyBuckets,
  percentiles,
  precisionBound,
  type LatencyHistogram,
} from '../../src/rollups/latency-histogram.js';
import { exactPercentile, withinPrecision } from './support.js';

const latency = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 2047 }), weight: 4 },
  { arbitrary: fc.integer({ min: 2048, max: 200_000 }), weight: 2 },
  { arbitrary: fc.integer({ min: 200_000, max: HIGHEST_LATENCY_MS }), weight: 1 },
);
const partsArb = fc.array(fc.array(latency, { minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 });

function histogramOf(values: readonly number[]): LatencyHistogram {
  const h = newLatencyHistogram();
  for (const v of values) h.recordValue(v);
  return h;
}

function countsOf(h: LatencyHistogram): Map<number, number> {
  const { values, counts } = nonEmptyBuckets(h);
  return new Map(values.map((v, i) => [v, counts[i] as number]));
}

const PS = [0.1, 1, 25, 50, 75, 90, 99, 99.9, 100];

describe('HDR latency histograms', () => {
  it('merging partial histograms (in memory and encoded) equals one histogram of all the data', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const all = parts.flat();
        const whole = histogramOf(all);
        const merged = newLatencyHistogram();
        for (const p of parts) merged.add(histogramOf(p));
        const fromEncoded = mergeEncodedHistograms(parts.map((p) => encodeHistogram(histogramOf(p))));
        for (const h of [merged, fromEncoded]) {
          expect(h.totalCount).toBe(all.length);
          expect(countsOf(h)).toEqual(countsOf(whole));
          for (const p of PS) expect(h.getValueAtPercentile(p)).toBe(whole.getValueAtPercentile(p));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('round-trips through the encoding with every bucket intact', () => {
    fc.assert(
      fc.property(fc.array(latency, { maxLength: 2000 }), (values) => {
        const h = histogramOf(values);
        const back = decodeHistogram(encodeHistogram(h));
        expect(back.totalCount).toBe(values.length);
        expect(countsOf(back)).toEqual(countsOf(h));
        expect(percentiles(back)).toEqual(percentiles(h));
        // And again: a decoded histogram encodes to the same buckets.
        expect(countsOf(decodeHistogram(encodeHistogram(back)))).toEqual(countsOf(h));
      }),
      { numRuns: 150 },
    );
  });

  it('reports every percentile within the documented precision of the exact one', () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 3000 }), (values) => {
        const h = histogramOf(values);
        for (const p of PS) {
          const exact = exactPercentile(values, p);
          const got = h.getValueAtPercentile(p);
          if (!withinPrecision(got, exact)) throw new Error(`p${p}: histogram ${got}, exact ${exact}, bound ${precisionBound(exact)}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps values below 2048 ms exactly and larger ones within 1/1024', () => {
    expect(precisionBound(2047)).toBe(0);
    for (const v of [2048, 4095, 65_537, 1_000_003, HIGHEST_LATENCY_MS]) {
      const h = histogramOf([v]);
      const got = h.getValueAtPercentile(50);
      expect(got).toBeGreaterThanOrEqual(v);
      expect(got - v).toBeLessThanOrEqual(precisionBound(v));
      expect(precisionBound(v)).toBeLessThan(v / 1024);
    }
  });

  it('grows with the data: a histogram of small values stays small, one of an hour stays bounded', () => {
    const small = histogramOf([1, 5, 2000]);
    expect(small.estimatedFootprintInBytes).toBeLessThanOrEqual(16 * 1024);
    const big = histogramOf([1, HIGHEST_LATENCY_MS]);
    expect(big.estimatedFootprintInBytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('nonEmptyBuckets lists upper bounds that rebuild the same histogram', () => {
    fc.assert(
      fc.property(fc.array(latency, { maxLength: 1000 }), (values) => {
        const h = histogramOf(values);
        const { values: uppers, counts } = nonEmptyBuckets(h);
        const rebuilt = newLatencyHistogram();
        uppers.forEach((v, i) => rebuilt.recordValueWithCount(v, counts[i] as number));
        expect(countsOf(rebuilt)).toEqual(countsOf(h));
        for (const p of PS) expect(rebuilt.getValueAtPercentile(p)).toBe(h.getValueAtPercentile(p));
      }),
      { numRuns: 100 },
    );
  });

  it('describes a histogram in one pass exactly as the library does, merged or not', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const merged = newMergeHistogram();
        for (const p of parts) merged.add(histogramOf(p));
        for (const h of [histogramOf(parts.flat()), merged]) {
          const d = describeHistogram(h);
          if (h.totalCount === 0) {
            expect(d).toEqual({ p50: 0, p90: 0, p99: 0, values: [], counts: [] });
            continue;
          }
          expect([d.p50, d.p90, d.p99]).toEqual([h.getValueAtPercentile(50), h.getValueAtPercentile(90), h.getValueAtPercentile(99)]);
          expect(d.counts.reduce((a, b) => a + b, 0)).toBe(h.totalCount);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('the V2 compressed encoding (hdr-codec.ts)', () => {
  it('is read by the library, and reads what the library writes (real deflate)', () => {
    fc.assert(
      fc.property(fc.array(latency, { maxLength: 2000 }), (values) => {
        const h = histogramOf(values);
        const ours = encodeHistogram(h);
        expect(ours.startsWith('HISTF')).toBe(true);
        const byLibrary = decodeFromCompressedBase64(ours, 64) as JsHistogram;
        expect(byLibrary.totalCount).toBe(values.length);
        expect(countsOf(byLibrary)).toEqual(countsOf(h));
        const theirs = encodeIntoCompressedBase64(h);
        const back = decodeHistogram(theirs);
        expect(countsOf(back)).toEqual(countsOf(h));
        // Totals, max and min kept as the library keeps them when it decodes.
        expect([back.totalCount, back.maxValue]).toEqual([byLibrary.totalCount, byLibrary.maxValue]);
        // (Without a value above 0 the two keep different "no minimum yet" sentinels.)
        if (values.some((v) => v > 0)) expect(back.minNonZeroValue).toBe(byLibrary.minNonZeroValue);
      }),
      { numRuns: 150 },
    );
  });

  it('encodes and describes in one pass with the same results as doing each alone', () => {
    fc.assert(
      fc.property(fc.array(latency, { maxLength: 2000 }), fc.boolean(), (values, withBuckets) => {
        const h = histogramOf(values);
        const both = encodeAndDescribe(h, withBuckets);
        const d = describeHistogram(h);
        expect([both.p50, both.p90, both.p99]).toEqual([d.p50, d.p90, d.p99]);
        expect(both.values).toEqual(withBuckets ? d.values : []);
        expect(both.counts).toEqual(withBuckets ? d.counts : []);
        expect(both.encoded).toBe(encodeHistogram(h));
      }),
      { numRuns: 150 },
    );
  });

  it('spans several stored blocks when the payload passes 64 KiB, and counts past 2^32', () => {
    const h = newMergeHistogram();
    // Every bucket up to an hour with a count near 2^40: ~14,000 counts of 6 bytes each.
    for (let v = 0; v <= HIGHEST_LATENCY_MS; v = v < 2048 ? v + 1 : v + Math.max(1, precisionBound(v) + 1)) h.recordValueWithCount(v, 2 ** 40 + v);
    const encoded = encodeHistogram(h);
    expect(Buffer.from(encoded, 'base64').length).toBeGreaterThan(70_000);
    expect(countsOf(decodeHistogram(encoded))).toEqual(countsOf(h));
    expect(countsOf(decodeFromCompressedBase64(encoded, 64) as JsHistogram)).toEqual(countsOf(h));
  });

  it('merges encodings made with other precision settings, value by value', () => {
    const twoDigits = new Int32Histogram(1, 100_000, 2);
    for (const v of [5, 50, 500, 5000]) twoDigits.recordValue(v);
    const merged = mergeEncodedHistograms([encodeIntoCompressedBase64(twoDigits), encodeHistogram(histogramOf([7]))]);
    expect(merged.totalCount).toBe(5);
    // Within the coarser histogram's own precision (2 digits: 1/128).
    expect(Math.abs(merged.getValueAtPercentile(100) - 5000)).toBeLessThan(5000 / 128);
  });

  it('refuses what is not an encoded histogram', () => {
    expect(() => decodeHistogram('')).toThrow();
    expect(() => decodeHistogram('aGVsbG8gd29ybGQ=')).toThrow();
    const good = Buffer.from(encodeHistogram(histogramOf([1, 2, 3])), 'base64');
    expect(() => decodeHistogram(good.subarray(0, good.length - 6).toString('base64'))).toThrow();
  });
});
