import type pg from 'pg';
import type { BucketedWindow } from './window.js';

/** A gateway's status classes and verified payments in one bucket (schema/postgres/012), summed exactly. */
export interface StatusClassTally {
  s2xx: bigint;
  s3xx: bigint;
  s4xx: bigint;
  s5xx: bigint;
  verified: bigint;
}

interface ClassRow {
  k: string;
  s2: string | null;
  s3: string | null;
  s4: string | null;
  s5: string | null;
  v: string | null;
}

/** The folded table of each bucket unit: fixed strings, never text from a request. */
const TABLES = { minute: 'gateway_stats_minute', hour: 'gateway_stats_hourly', day: 'gateway_stats_daily' } as const;

const COLUMNS = 'status_2xx AS s2, status_3xx AS s3, status_4xx AS s4, status_5xx AS s5, payments_verified AS v';

/*
 * Like rollup-tallies.ts: the folded rows of the window plus the gateway's pending tallies,
 * binned the same way; run by the caller in the same snapshot as the other figures, so a
 * tally is counted once whether or not a folder has moved it. $1 tenant, $2 gateway,
 * $3 and $4 the window, $5 the bucket as an interval.
 */
function classesSql(unit: BucketedWindow['unit']): string {
  return `SELECT (extract(epoch FROM b) * 1000)::bigint::text AS k,
       sum(s2)::text AS s2, sum(s3)::text AS s3, sum(s4)::text AS s4, sum(s5)::text AS s5, sum(v)::text AS v
FROM (
  SELECT bucket AS b, ${COLUMNS} FROM ${TABLES[unit]}
  WHERE tenant_id = $1 AND gateway_id = $2 AND bucket >= $3::timestamptz AND bucket < $4::timestamptz
  UNION ALL
  SELECT date_bin($5::interval, minute, TIMESTAMPTZ 'epoch') AS b, ${COLUMNS} FROM rollup_pending
  WHERE kind = 'gateway' AND tenant_id = $1 AND entity_id = $2 AND minute >= $3::timestamptz AND minute < $4::timestamptz
) x GROUP BY b`;
}

/** Per bucket start (ms since the epoch); buckets with nothing in them are absent. */
export async function statusClassesByBucket(c: pg.ClientBase, tenantId: string, gatewayId: string, w: BucketedWindow): Promise<Map<number, StatusClassTally>> {
  const { rows } = await c.query<ClassRow>(classesSql(w.unit), [
    tenantId,
    gatewayId,
    new Date(w.fromMs).toISOString(),
    new Date(w.toMs).toISOString(),
    `${w.bucketMs / 1000} seconds`,
  ]);
  return new Map(
    rows.map((r) => [Number(r.k), { s2xx: BigInt(r.s2 ?? '0'), s3xx: BigInt(r.s3 ?? '0'), s4xx: BigInt(r.s4 ?? '0'), s5xx: BigInt(r.s5 ?? '0'), verified: BigInt(r.v ?? '0') }]),
  );
}
