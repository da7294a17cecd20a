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

/*
 * Every figure of a window is the folded rows of its bucket table plus the agent's
 * rollup_pending rows in the window, binned the same way (docs/read-api.md §3). A pending
 * row carries its latencies raw (`latencies`, 005) or as a histogram (`latency_histogram`). The callers
 * put these in their own single statement, so folded and pending rows are read in one
 * snapshot (snapshot.ts). The tables are fixed strings chosen by the
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
              sum(lat)::text AS lat, string_agg(h, ' ') AS hists,
              string_agg(NULLIF(lats, ''), ',') AS lats`;

/** Parameters of the tally statements below, in the order their SQL numbers them. */
export function tallyParams(scope: TallyScope, w: BucketedWindow): unknown[] {
  const window = [new Date(w.fromMs).toISOString(), new Date(w.toMs).toISOString(), `${w.bucketMs / 1000} seconds`];
  return scope.kind === 'agent' ? [scope.agentId, ...window] : [scope.gatewayId, ...window, scope.tenantId];
}

/** SQL: the tallies of each bucket of the window (key `k`: the bucket start in ms, as text), with tallyParams. */
export function bucketTalliesSql(kind: TallyScope['kind'], unit: BucketUnit): string {
  return `SELECT (extract(epoch FROM b) * 1000)::bigint::text AS k, ${SUMS}
     FROM (${folded(kind, unit, false)} UNION ALL ${pending(kind)}) x GROUP BY b`;
}

/** SQL: the tallies of each vendor over the whole window (key `k`: the vendor id), with tallyParams. */
export function vendorTalliesSql(kind: TallyScope['kind'], unit: BucketUnit): string {
  return `SELECT v AS k, ${SUMS} FROM (${folded(kind, unit, true)} UNION ALL ${pending(kind)}) x GROUP BY v`;
}

/**
 * SQL: the agent's spend from a whole hour until now, from the hourly rows and the pending
 * tallies (what a burn rate divides); `agent` and `from` are parameter references.
 */
export function spendSinceSql(agent: string, from: string): string {
  return `(COALESCE((SELECT sum(total_spend_atomic) FROM agent_stats_hourly WHERE agent_id = ${agent} AND bucket >= ${from}::timestamptz), 0)
         + COALESCE((SELECT sum(total_spend_atomic) FROM rollup_pending
                     WHERE kind = 'agent' AND entity_id = ${agent} AND minute >= ${from}::timestamptz), 0))`;
}

/** A row of a tally statement (k null: a row that carries other figures but no tally). */
export type TallyRow = {
  k: string | null;
  req: string | null;
  ok: string | null;
  bad: string | null;
  spend: string | null;
  lat: string | null;
  /** The histograms, space-separated (base64 has no space): cheaper to take apart than a text[]. */
  hists: string | null;
  lats: string | null;
};

/** The rows of a tally statement by key; rows without a key are skipped. */
export function talliesByKey<K>(rows: readonly TallyRow[], key: (k: string) => K): Map<K, Tally> {
  const out = new Map<K, Tally>();
  for (const r of rows) if (r.k !== null) out.set(key(r.k), toTally(r));
  return out;
}

function toTally(r: TallyRow): Tally {
  return {
    requests: BigInt(r.req ?? '0'),
    successes: BigInt(r.ok ?? '0'),
    failures: BigInt(r.bad ?? '0'),
    spend: BigInt(r.spend ?? '0'),
    latencySum: BigInt(r.lat ?? '0'),
    histograms: r.hists === null ? [] : r.hists.split(' '),
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
