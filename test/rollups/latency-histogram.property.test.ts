/**
 * The histogram properties the rollups stand on: merging partial histograms equals one
 * histogram of all the data, the encoding round-trips, and every percentile read back is
 * within the documented precision of the exact nearest-rank percentile. No services needed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHistogram,
  encodeHistogram,
  HIGHEST_LATENCY_MS,
  mergeEncodedHistograms,
  newLatencyHistogram,
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
});
