import type { BucketedWindow } from './window.js';

/** A gateway's status classes and verified payments in one bucket (schema/postgres/012), summed exactly. */
export interface StatusClassTally {
  s2xx: bigint;
  s3xx: bigint;
  s4xx: bigint;
  s5xx: bigint;
  verified: bigint;
}

/** The folded table of each bucket unit: fixed strings, never text from a request. */
const TABLES = { minute: 'gateway_stats_minute', hour: 'gateway_stats_hourly', day: 'gateway_stats_daily' } as const;

const COLUMNS = 'status_2xx AS s2, status_3xx AS s3, status_4xx AS s4, status_5xx AS s5, payments_verified AS v';

/*
 * Like rollup-tallies.ts: the folded rows of the window plus the gateway's pending tallies,
 * binned the same way and read in the same statement as the other figures, so a tally is
 * counted once whether or not a folder has moved it. The parameters are the gateway tallies'
 * (tallyParams): $1 gateway, $2 and $3 the window, $4 the bucket as an interval, $5 tenant.
 * Key `ck`: the bucket start in ms, as text.
 */
export function statusClassesSql(unit: BucketedWindow['unit']): string {
  return `SELECT (extract(epoch FROM b) * 1000)::bigint::text AS ck,
       sum(s2)::text AS s2, sum(s3)::text AS s3, sum(s4)::text AS s4, sum(s5)::text AS s5, sum(v)::text AS v
FROM (
  SELECT bucket AS b, ${COLUMNS} FROM ${TABLES[unit]}
  WHERE tenant_id = $5 AND gateway_id = $1 AND bucket >= $2::timestamptz AND bucket < $3::timestamptz
  UNION ALL
  SELECT date_bin($4::interval, minute, TIMESTAMPTZ 'epoch') AS b, ${COLUMNS} FROM rollup_pending
  WHERE kind = 'gateway' AND tenant_id = $5 AND entity_id = $1 AND minute >= $2::timestamptz AND minute < $3::timestamptz
) x GROUP BY b`;
}

/** A row of statusClassesSql. */
export interface StatusClassRow {
  ck: string | null;
  s2: string | null;
  s3: string | null;
  s4: string | null;
  s5: string | null;
  v: string | null;
}

/** Per bucket start (ms since the epoch); rows without a key are skipped. */
export function statusClassesByBucket(rows: readonly StatusClassRow[]): Map<number, StatusClassTally> {
  const out = new Map<number, StatusClassTally>();
  for (const r of rows) {
    if (r.ck === null) continue;
    out.set(Number(r.ck), { s2xx: BigInt(r.s2 ?? '0'), s3xx: BigInt(r.s3 ?? '0'), s4xx: BigInt(r.s4 ?? '0'), s5xx: BigInt(r.s5 ?? '0'), verified: BigInt(r.v ?? '0') });
  }
  return out;
}
