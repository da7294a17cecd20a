import type pg from 'pg';
import { LatencyMerger } from './latency-summary.js';
import { TimeSlicer } from './time-slices.js';
import { tallyByVendor } from './rollup-tallies.js';
import { inSnapshot, SNAPSHOT_TIME_SQL } from './snapshot.js';
import { apiTime, isoMs } from './times.js';
import { bucketWindow, type RequestedWindow } from './window.js';
import type { AgentVendors } from '../protocol/index.js';

/** GET /v1/agent/vendors: the same window and snapshot rules as the metrics, per vendor. */
export async function agentVendors(pool: pg.Pool, agentId: string, requested: RequestedWindow): Promise<AgentVendors> {
  const w = bucketWindow(requested);
  const read = await inSnapshot(pool, async (c) => {
    const t = await c.query<{ t: string }>(SNAPSHOT_TIME_SQL);
    return { completeThrough: t.rows[0]?.t ?? '', vendors: await tallyByVendor(c, { kind: 'agent', agentId }, w) };
  });
  const merger = new LatencyMerger();
  const rows = [...read.vendors].map(([vendor, t]) => ({ vendor, t }));
  // By spend, largest first, then by vendor id.
  rows.sort((a, b) => (a.t.spend === b.t.spend ? (a.vendor < b.vendor ? -1 : a.vendor > b.vendor ? 1 : 0) : a.t.spend > b.t.spend ? -1 : 1));
  return {
    agent_id: agentId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(read.completeThrough),
    vendors: await mapSliced(rows, ({ vendor, t }) => {
      const lat = merger.figures(t.histograms, t.rawLatencies);
      return {
        vendor_id: vendor,
        request_count: Number(t.requests),
        successful_requests: Number(t.successes),
        failed_requests: Number(t.failures),
        success_rate: t.requests > 0n ? Number(t.successes) / Number(t.requests) : null,
        spend_atomic: t.spend.toString(),
        avg_latency_ms: t.requests > 0n ? Number(t.latencySum) / Number(t.requests) : null,
        p50_latency_ms: lat.p50,
        p99_latency_ms: lat.p99,
      };
    }),
  };
}

async function mapSliced<T, R>(items: readonly T[], fn: (item: T) => R): Promise<R[]> {
  const slices = new TimeSlicer();
  const out: R[] = [];
  for (const item of items) {
    await slices.yieldIfDue();
    out.push(fn(item));
  }
  return out;
}
