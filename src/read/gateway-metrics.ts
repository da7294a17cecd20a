import type pg from 'pg';
import { chartWindow } from './bucket-chart.js';
import { statusClassesByBucket, statusClassesSql, type StatusClassRow, type StatusClassTally } from './gateway-status-classes.js';
import { bucketTalliesSql, tallyParams, talliesByKey, type TallyRow } from './rollup-tallies.js';
import { COMPLETE_THROUGH_SQL } from './snapshot.js';
import { apiTime, isoMs } from './times.js';
import { queryWithGenericPlan, statementPerUnit } from './prepared.js';
import { bucketWindow, type RequestedWindow } from './window.js';
import type { GatewayChartPoint, GatewayMetrics, StatusClasses } from '../protocol/index.js';

/*
 * One statement, as the agent metrics' (agent-metrics.ts): the snapshot's instant joined
 * with the bucket tallies and, bucket by bucket, the status classes (both come from the
 * same rows, so a bucket has both or neither).
 */
const gatewayStatement = statementPerUnit(
  'read-gateway-metrics',
  (unit) => `SELECT ${COMPLETE_THROUGH_SQL} AS t, b.*, c.*
  FROM (SELECT 1) one
  LEFT JOIN (${bucketTalliesSql('gateway', unit)}) b ON true
  LEFT JOIN (${statusClassesSql(unit)}) c ON c.ck = b.k`,
);

/**
 * GET /v1/gateway/metrics: a gateway of the key's tenant, built like the agent metrics
 * from gateway_stats_minute / _hourly / _daily plus the pending gateway tallies, with the
 * gateway's own counts (status classes, verified payments) per bucket and in total.
 * A request succeeds when its status is below 400.
 */
export async function gatewayMetrics(pool: pg.Pool, tenantId: string, gatewayId: string, requested: RequestedWindow): Promise<GatewayMetrics> {
  const w = bucketWindow(requested);
  const { rows } = await queryWithGenericPlan<TallyRow & StatusClassRow & { t: string }>(pool, gatewayStatement(w.unit, tallyParams({ kind: 'gateway', tenantId, gatewayId }, w)));
  const read = { completeThrough: rows[0]?.t ?? '', buckets: talliesByKey(rows, Number), classes: statusClassesByBucket(rows) };
  const { chart_data, ...totals } = await chartWindow(read.buckets, w);
  const total: StatusClassTally = { s2xx: 0n, s3xx: 0n, s4xx: 0n, s5xx: 0n, verified: 0n };
  // chartWindow lays the buckets out from w.fromMs in steps of w.bucketMs, one point each.
  const chart: GatewayChartPoint[] = chart_data.map((point, i) => {
    const c = read.classes.get(w.fromMs + i * w.bucketMs);
    if (c === undefined) return { ...point, status_classes: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, payments_verified: 0 };
    total.s2xx += c.s2xx;
    total.s3xx += c.s3xx;
    total.s4xx += c.s4xx;
    total.s5xx += c.s5xx;
    total.verified += c.verified;
    return { ...point, status_classes: statusClasses(c), payments_verified: Number(c.verified) };
  });
  return {
    gateway_id: gatewayId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(read.completeThrough),
    ...totals,
    status_classes: statusClasses(total),
    payments_verified: Number(total.verified),
    chart_data: chart,
  };
}

function statusClasses(c: StatusClassTally): StatusClasses {
  return { '2xx': Number(c.s2xx), '3xx': Number(c.s3xx), '4xx': Number(c.s4xx), '5xx': Number(c.s5xx) };
}
