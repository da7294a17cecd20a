import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nearestRankPercentile, VendorStatsWindow } from '../../src/sdk/stats-window.js';

/** The reference: sort the raw values and take rank ⌈p·n⌉, computed independently. */
function referencePercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  let rank = 1;
  while (rank < sorted.length && rank * 100 < p * sorted.length) rank++;
  return sorted[rank - 1] ?? 0;
}

const limits = { maxVendors: 10, latencySampleSize: 4096, maxErrorTypes: 4 };

describe('nearestRankPercentile', () => {
  it('matches the rank definition at the edges', () => {
    expect(nearestRankPercentile([], 50)).toBe(0);
    expect(nearestRankPercentile([7], 99)).toBe(7);
    expect(nearestRankPercentile([1, 2, 3, 4], 50)).toBe(2);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(nearestRankPercentile(hundred, 99)).toBe(99);
    expect(nearestRankPercentile(hundred, 50)).toBe(50);
    const three = Array.from({ length: 300 }, (_, i) => i + 1);
    expect(nearestRankPercentile(three, 99)).toBe(297);
  });
});

describe('VendorStatsWindow', () => {
  it('p50/p99 equal those of a sort of the raw latencies', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 3000 }), (latencies) => {
        const w = new VendorStatsWindow(limits);
        for (const ms of latencies) w.record('v', true, ms, null, null);
        const s = w.drain().vendors.get('v');
        expect(s?.latencyP50Ms).toBe(referencePercentile(latencies, 50));
        expect(s?.latencyP99Ms).toBe(referencePercentile(latencies, 99));
      }),
      { numRuns: 200 },
    );
  });

  it('counts attempts, successes, failures, spend and errors per vendor, then starts a new period', () => {
    const w = new VendorStatsWindow(limits);
    w.record('a', true, 10, 1000n, null);
    w.record('a', true, 20, 9_223_372_036_854_775_000n, null);
    w.record('a', false, 30, 5n, 'timeout');
    w.record('a', false, 40, null, null);
    w.record('b', false, 50, null, 'timeout');
    const period = w.drain();
    expect(period.vendors.get('a')).toEqual({
      attempts: 4,
      success: 2,
      failures: 2,
      latencyP50Ms: 20,
      latencyP99Ms: 40,
      spendAtomic: 9_223_372_036_854_775_807n, // saturates at int64 max
      errors: { timeout: 1, unknown: 1 },
    });
    expect(period.vendors.get('b')?.errors).toEqual({ timeout: 1 });
    expect(w.drain().vendors.size).toBe(0);
  });

  it('bounds vendors and error types', () => {
    const w = new VendorStatsWindow({ maxVendors: 2, latencySampleSize: 8, maxErrorTypes: 2 });
    for (const v of ['a', 'b', 'c', 'c']) w.record(v, true, 1, null, null);
    for (const t of ['x', 'y', 'z', 'w']) w.record('a', false, 1, null, t);
    const period = w.drain();
    expect([...period.vendors.keys()]).toEqual(['a', 'b']);
    expect(period.overflowedInteractions).toBe(2);
    expect(period.vendors.get('a')?.errors).toEqual({ x: 1, y: 1, other: 2 });
  });

  it('past latencySampleSize keeps a bounded uniform sample that still tracks the distribution', () => {
    let seed = 1;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const w = new VendorStatsWindow({ maxVendors: 1, latencySampleSize: 1000, maxErrorTypes: 1 }, random);
    for (let i = 0; i < 100_000; i++) w.record('v', true, i % 1000, null, null);
    const s = w.drain().vendors.get('v');
    expect(s?.attempts).toBe(100_000);
    expect(Math.abs((s?.latencyP50Ms ?? 0) - 500)).toBeLessThan(60);
    expect(s?.latencyP99Ms).toBeGreaterThan(960);
  });
});
