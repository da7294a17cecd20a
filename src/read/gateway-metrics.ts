import type pg from 'pg';
import { chartWindow } from './bucket-chart.js';
import { tallyByBucket } from './rollup-tallies.js';
import { inSnapshot, SNAPSHOT_TIME_SQL } from './snapshot.js';
import { apiTime, isoMs } from './times.js';
import { bucketWindow, type RequestedWindow } from './window.js';
import type { GatewayMetrics } from '../protocol/index.js';

/**
 * GET /v1/gateway/metrics: a gateway of the key's tenant, built like the agent metrics
 * from gateway_stats_minute / _hourly / _daily plus the pending gateway tallies.
 * A request succeeds when its status is below 400.
 */
export async function gatewayMetrics(pool: pg.Pool, tenantId: string, gatewayId: string, requested: RequestedWindow): Promise<GatewayMetrics> {
  const w = bucketWindow(requested);
  const read = await inSnapshot(pool, async (c) => {
    const t = await c.query<{ t: string }>(SNAPSHOT_TIME_SQL);
    const buckets = await tallyByBucket(c, { kind: 'gateway', tenantId, gatewayId }, w);
    return { completeThrough: t.rows[0]?.t ?? '', buckets };
  });
  const { chart_data, ...totals } = await chartWindow(read.buckets, w);
  return {
    gateway_id: gatewayId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(read.completeThrough),
    ...totals,
    chart_data,
  };
}
