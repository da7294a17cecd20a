import { LatencyMerger, newTotalHistogram } from './latency-summary.js';
import { addTally, emptyTally, type Tally } from './rollup-tallies.js';
import { TimeSlicer } from './time-slices.js';
import { isoMs } from './times.js';
import type { BucketedWindow } from './window.js';
import type { ChartPoint, WindowFigures } from '../protocol/index.js';

/**
 * Every bucket of the window, oldest first (zeros and null percentiles where nothing
 * happened), and the totals as the sum of those buckets. Each bucket's histograms are
 * merged once into a reused scratch histogram and once into the window's own, in slices
 * of at most a few milliseconds of CPU.
 */
export async function chartWindow(buckets: ReadonlyMap<number, Tally>, w: BucketedWindow): Promise<WindowFigures> {
  const merger = new LatencyMerger();
  const total = newTotalHistogram();
  const sum = emptyTally();
  const chart: ChartPoint[] = [];
  const slices = new TimeSlicer();
  for (let b = w.fromMs; b < w.toMs; b += w.bucketMs) {
    await slices.yieldIfDue();
    const t = buckets.get(b) ?? emptyTally();
    addTally(sum, t);
    const lat = merger.figures(t.histograms, t.rawLatencies, total);
    chart.push({
      bucket: isoMs(b),
      requests: Number(t.requests),
      failed_requests: Number(t.failures),
      spend_atomic: t.spend.toString(),
      p50_latency_ms: lat.p50,
      p99_latency_ms: lat.p99,
    });
  }
  const overall = LatencyMerger.read(total);
  return {
    total_requests: Number(sum.requests),
    successful_requests: Number(sum.successes),
    failed_requests: Number(sum.failures),
    success_rate: sum.requests > 0n ? Number(sum.successes) / Number(sum.requests) : null,
    total_spend_atomic: sum.spend.toString(),
    avg_latency_ms: sum.requests > 0n ? Number(sum.latencySum) / Number(sum.requests) : null,
    p50_latency_ms: overall.p50,
    p99_latency_ms: overall.p99,
    chart_data: chart,
  };
}
