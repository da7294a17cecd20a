import type pg from 'pg';
import type { BucketedWindow, BucketUnit } from './window.js';

/** Counts, spend and latency histograms of one bucket or one vendor, summed exactly. */
export interface Tally {
  requests: bigint;
  successes: bigint;
  failures: bigint;
  spend: bigint;
  latencySum: bigint;
  /** HdrHistogram V2 compressed base64 encodings, merged by the caller. */
  histograms: string[];
  /** Raw latencies of pending tallies not folded yet, as comma-separated lists. */
  rawLatencies: string | null;
}

interface TallyRow {
  k: string;
  req: string | null;
  ok: string | null;
  bad: string | null;
  spend: string | null;
  lat: string | null;
  hists: string[] | null;
  lats: string | null;
}

/*
 * Every figure of a window is the folded rows of its bucket table plus the agent's
 * rollup_pending rows in the window, binned the same way (docs/read-api.md §3). A pending
 * row carries its latencies raw (`latencies`, 005) or as a histogram (`latency_histogram`). The callers
 * run these inside one snapshot (snapshot.ts). The tables are fixed strings chosen by the
 * bucket unit, never text from a request.
 */

/** Whose figures: an agent, or a gateway of a tenant (gateway ids are unique only within their tenant). */
export type TallyScope = { kind: 'agent'; agentId: string } | { kind: 'gateway'; tenantId: string; gatewayId: string };

/*
 * Parameters of every statement below: $1 the entity, $2 and $3 the window, $4 the bucket
 * as an interval, $5 the tenant (gateways only).
 */
const ENTITY = {
  agent: { own: (t: string) => `${t}agent_id = $1`, pending: "kind = 'agent' AND entity_id = $1" },
  gateway: { own: (t: string) => `${t}tenant_id = $5 AND ${t}gateway_id = $1`, pending: "kind = 'gateway' AND tenant_id = $5 AND entity_id = $1" },
} as const;

const TABLES = {
  agent: { minute: 'agent_stats_minute', hour: 'agent_stats_hourly', day: 'agent_stats_daily' },
  gateway: { minute: 'gateway_stats_minute', hour: 'gateway_stats_hourly', day: 'gateway_stats_daily' },
} as const;

function pending(kind: TallyScope['kind']): string {
  return `
  SELECT date_bin($4::interval, minute, TIMESTAMPTZ 'epoch') AS b, vendor_id AS v, total_requests AS req,
         successful_requests AS ok, failed_requests AS bad, total_spend_atomic AS spend, latency_sum_ms AS lat,
         latency_histogram AS h, array_to_string(latencies, ',') AS lats
  FROM rollup_pending
  WHERE ${ENTITY[kind].pending} AND minute >= $2::timestamptz AND minute < $3::timestamptz`;
}

/** Minute and day tables: one row per (entity, bucket, vendor). */
function perVendorRows(kind: TallyScope['kind'], unit: 'minute' | 'day'): string {
  return `
  SELECT bucket AS b, vendor_id AS v, total_requests AS req, successful_requests AS ok, failed_requests AS bad,
         total_spend_atomic AS spend, latency_sum_ms AS lat, latency_histogram AS h, NULL::text AS lats
  FROM ${TABLES[kind][unit]}
  WHERE ${ENTITY[kind].own('')} AND bucket >= $2::timestamptz AND bucket < $3::timestamptz`;
}

/** Hour tables, one row per hour: its totals and its whole-row histogram. */
function hourTotals(kind: TallyScope['kind']): string {
  return `
  SELECT bucket AS b, NULL::varchar AS v, total_requests AS req, successful_requests AS ok, failed_requests AS bad,
         total_spend_atomic AS spend, latency_sum_ms AS lat, latency_histogram AS h, NULL::text AS lats
  FROM ${TABLES[kind].hour}
  WHERE ${ENTITY[kind].own('')} AND bucket >= $2::timestamptz AND bucket < $3::timestamptz`;
}

/** Hour tables, one row per (hour, vendor) out of vendor_breakdown (src/rollups/hourly-row-merge.ts). */
function hourVendors(kind: TallyScope['kind']): string {
  return `
  SELECT s.bucket AS b, e.key AS v, (e.value->>'requests')::bigint AS req, (e.value->>'successes')::bigint AS ok,
         (e.value->>'failures')::bigint AS bad, (e.value->>'spend_atomic')::numeric AS spend,
         (e.value->>'latency_sum_ms')::bigint AS lat, e.value->>'latency_histogram' AS h, NULL::text AS lats
  FROM ${TABLES[kind].hour} s
  CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.vendor_breakdown) = 'object' THEN s.vendor_breakdown END) e
  WHERE ${ENTITY[kind].own('s.')} AND s.bucket >= $2::timestamptz AND s.bucket < $3::timestamptz`;
}

function folded(kind: TallyScope['kind'], unit: BucketUnit, byVendor: boolean): string {
  if (unit === 'hour') return byVendor ? hourVendors(kind) : hourTotals(kind);
  return perVendorRows(kind, unit);
}

const SUMS = `sum(req)::text AS req, sum(ok)::text AS ok, sum(bad)::text AS bad, sum(spend)::text AS spend,
              sum(lat)::text AS lat, array_remove(array_agg(h), NULL) AS hists,
              string_agg(NULLIF(lats, ''), ',') AS lats`;

function params(scope: TallyScope, w: BucketedWindow): unknown[] {
  const window = [new Date(w.fromMs).toISOString(), new Date(w.toMs).toISOString(), `${w.bucketMs / 1000} seconds`];
  return scope.kind === 'agent' ? [scope.agentId, ...window] : [scope.gatewayId, ...window, scope.tenantId];
}

/** Tallies per bucket start (ms since the epoch); buckets with nothing in them are absent. */
export async function tallyByBucket(c: pg.ClientBase, scope: TallyScope, w: BucketedWindow): Promise<Map<number, Tally>> {
  const { rows } = await c.query<TallyRow>(
    `SELECT (extract(epoch FROM b) * 1000)::bigint::text AS k, ${SUMS}
     FROM (${folded(scope.kind, w.unit, false)} UNION ALL ${pending(scope.kind)}) x GROUP BY b`,
    params(scope, w),
  );
  return new Map(rows.map((r) => [Number(r.k), toTally(r)]));
}

/** Tallies per vendor over the whole window. */
export async function tallyByVendor(c: pg.ClientBase, scope: TallyScope, w: BucketedWindow): Promise<Map<string, Tally>> {
  const { rows } = await c.query<TallyRow>(
    `SELECT v AS k, ${SUMS} FROM (${folded(scope.kind, w.unit, true)} UNION ALL ${pending(scope.kind)}) x GROUP BY v`,
    params(scope, w),
  );
  return new Map(rows.map((r) => [r.k, toTally(r)]));
}

/**
 * Spend from `fromMs` (a whole hour) until now, from the hourly rows and the pending
 * tallies: what the burn rate divides.
 */
export async function spendSince(c: pg.ClientBase, agentId: string, fromMs: number): Promise<bigint> {
  const { rows } = await c.query<{ spend: string | null }>(
    `SELECT (COALESCE((SELECT sum(total_spend_atomic) FROM agent_stats_hourly WHERE agent_id = $1 AND bucket >= $2::timestamptz), 0)
           + COALESCE((SELECT sum(total_spend_atomic) FROM rollup_pending
                       WHERE kind = 'agent' AND entity_id = $1 AND minute >= $2::timestamptz), 0))::text AS spend`,
    [agentId, new Date(fromMs).toISOString()],
  );
  return BigInt(rows[0]?.spend ?? '0');
}

function toTally(r: TallyRow): Tally {
  return {
    requests: BigInt(r.req ?? '0'),
    successes: BigInt(r.ok ?? '0'),
    failures: BigInt(r.bad ?? '0'),
    spend: BigInt(r.spend ?? '0'),
    latencySum: BigInt(r.lat ?? '0'),
    histograms: r.hists ?? [],
    rawLatencies: r.lats,
  };
}

export function emptyTally(): Tally {
  return { requests: 0n, successes: 0n, failures: 0n, spend: 0n, latencySum: 0n, histograms: [], rawLatencies: null };
}

export function addTally(into: Tally, t: Tally): void {
  into.requests += t.requests;
  into.successes += t.successes;
  into.failures += t.failures;
  into.spend += t.spend;
  into.latencySum += t.latencySum;
}
