import type pg from 'pg';
import { accessSql, type AgentAccess } from './agent-access.js';
import { LatencyMerger } from './latency-summary.js';
import { TimeSlicer } from './time-slices.js';
import { tallyParams, talliesByKey, vendorTalliesSql, type TallyRow } from './rollup-tallies.js';
import { COMPLETE_THROUGH_SQL } from './snapshot.js';
import { apiTime, isoMs } from './times.js';
import { statementPerUnit } from './prepared.js';
import { bucketWindow, type RequestedWindow } from './window.js';
import type { AgentVendors } from '../protocol/index.js';

/** One statement, as the metrics' (agent-metrics.ts): $1–$4 the tallies' parameters, $5 the reading tenant. */
const vendorsStatement = statementPerUnit(
  'read-agent-vendors',
  (unit) => `WITH head AS (SELECT ${COMPLETE_THROUGH_SQL} AS t WHERE ${accessSql('$1', '$5')})
  SELECT head.t, v.* FROM head LEFT JOIN (${vendorTalliesSql('agent', unit)}) v ON true`,
);

/** GET /v1/agent/vendors: the same window and snapshot rules as the metrics, per vendor; null when the access does not hold. */
export async function agentVendors(pool: pg.Pool, access: AgentAccess, requested: RequestedWindow): Promise<AgentVendors | null> {
  const { agentId } = access;
  const w = bucketWindow(requested);
  const { rows } = await pool.query<TallyRow & { t: string }>(vendorsStatement(w.unit, [...tallyParams({ kind: 'agent', agentId }, w), access.tenantId]));
  const head = rows[0];
  if (head === undefined) return null;
  const merger = new LatencyMerger();
  const vendors = [...talliesByKey(rows, (k) => k)].map(([vendor, t]) => ({ vendor, t }));
  // By spend, largest first, then by vendor id.
  vendors.sort((a, b) => (a.t.spend === b.t.spend ? (a.vendor < b.vendor ? -1 : a.vendor > b.vendor ? 1 : 0) : a.t.spend > b.t.spend ? -1 : 1));
  return {
    agent_id: agentId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(head.t),
    vendors: await mapSliced(vendors, ({ vendor, t }) => {
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
