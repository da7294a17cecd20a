import type pg from 'pg';
import type { RowGroup } from '../codec/index.js';

/**
 * What a batch counts, written into rollup_pending inside the batch's own transaction, so the
 * rollups count exactly the rows that committed: a batch rolled back leaves no tally, and a
 * batch whose COMMIT reply was lost has its tally committed with it (its replay inserts
 * nothing and tallies nothing). The folder (tally-folder.ts) moves the tallies into the
 * rollup tables later.
 */

const COLUMNS =
  'kind, tenant_id, entity_id, vendor_id, minute, total_requests, successful_requests, failed_requests, total_spend_atomic, latency_sum_ms, max_latency_ms, latencies, ' +
  'status_2xx, status_3xx, status_4xx, status_5xx, payments_verified';

/**
 * One statement for any number of groups: fifteen arrays of one value per group, and every
 * group's latencies in one flat array that each row slices (`starts` are 1-based). Its text
 * never changes, so it is prepared once per connection (a named statement).
 */
const INSERT_SQL = `INSERT INTO rollup_pending (${COLUMNS})
SELECT g.kind, g.tenant, g.entity, g.vendor, to_timestamp(g.minute_ms / 1000.0), g.requests, g.successes, g.requests - g.successes,
       g.spend, g.latency_sum, g.max_latency, CASE WHEN g.requests = 0 THEN NULL ELSE l.flat[g.start : g.start + g.requests - 1] END,
       g.s2, g.s3, g.s4, g.s5, g.verified
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::int[], $8::numeric[], $9::bigint[], $10::int[], $11::int[],
            $13::int[], $14::int[], $15::int[], $16::int[], $17::int[])
       AS g(kind, tenant, entity, vendor, minute_ms, requests, successes, spend, latency_sum, max_latency, start, s2, s3, s4, s5, verified),
     (SELECT $12::int[] AS flat) AS l`;

const STATEMENT_NAME = 'machpay_rollup_pending_insert';

export class PendingTallyError extends Error {
  readonly code = 'ROLLUP_INVALID_GROUP';
}

/** The parameters of INSERT_SQL, built in one pass over the groups and their latencies. */
export function pendingTallyParams(groups: readonly RowGroup[]): unknown[] {
  const n = groups.length;
  const kinds = new Array<string>(n);
  const tenants = new Array<string>(n);
  const entities = new Array<string>(n);
  const vendors = new Array<string>(n);
  const minutes = new Array<number>(n);
  const requests = new Array<number>(n);
  const successes = new Array<number>(n);
  const spends = new Array<string>(n);
  const sums = new Array<number>(n);
  const maxima = new Array<number | null>(n);
  const starts = new Array<number>(n);
  const s2 = new Array<number>(n);
  const s3 = new Array<number>(n);
  const s4 = new Array<number>(n);
  const s5 = new Array<number>(n);
  const verified = new Array<number>(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += (groups[i] as RowGroup).latencies.length;
  const flat = new Array<number>(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const g = groups[i] as RowGroup;
    const lat = g.latencies;
    const count = lat.length;
    // A tally that does not add up would be folded into every rollup table for good: refuse
    // it here, where the batch's transaction can still fail as a whole.
    const c2 = g.status2xx ?? 0;
    const c3 = g.status3xx ?? 0;
    const c4 = g.status4xx ?? 0;
    const c5 = g.status5xx ?? 0;
    const cv = g.paymentsVerified ?? 0;
    if (
      g.requests !== count ||
      g.successes < 0 ||
      g.successes > g.requests ||
      g.failures !== g.requests - g.successes ||
      g.spendAtomic < 0n ||
      !statusClassesAddUp(g, c2, c3, c4, c5, cv)
    ) {
      throw new PendingTallyError(`rollup group ${g.kind}/${g.entity}/${g.vendorId}@${g.minute} does not add up`);
    }
    s2[i] = c2;
    s3[i] = c3;
    s4[i] = c4;
    s5[i] = c5;
    verified[i] = cv;
    kinds[i] = g.kind;
    tenants[i] = g.tenantId;
    entities[i] = g.entity;
    vendors[i] = g.vendorId;
    minutes[i] = g.minute;
    requests[i] = count;
    successes[i] = g.successes;
    spends[i] = g.spendAtomic === 0n ? '0' : g.spendAtomic.toString();
    starts[i] = at + 1;
    let sum = 0;
    let max = 0;
    for (let k = 0; k < count; k++) {
      const v = lat[k] as number;
      // `!(v >= 0)` also catches NaN; the folder's parser reads digits only.
      if (!(v >= 0)) throw new PendingTallyError(`rollup group ${g.kind}/${g.entity}/${g.vendorId}@${g.minute} has latency ${v}`);
      sum += v;
      if (v > max) max = v;
      flat[at++] = v;
    }
    sums[i] = sum;
    maxima[i] = count === 0 ? null : max;
  }
  return [kinds, tenants, entities, vendors, minutes, requests, successes, spends, sums, maxima, starts, flat, s2, s3, s4, s5, verified];
}

/**
 * A gateway's classes are counts within its requests: 2xx and 3xx among its successes
 * (status below 400), 4xx and 5xx among its failures. "Among", not "equal to": a writer that
 * does not know the classes leaves them 0 (the codec always fills them). Agents have none.
 */
function statusClassesAddUp(g: RowGroup, c2: number, c3: number, c4: number, c5: number, verified: number): boolean {
  if (!isCount(c2) || !isCount(c3) || !isCount(c4) || !isCount(c5) || !isCount(verified)) return false;
  if (g.kind === 'agent') return c2 + c3 + c4 + c5 + verified === 0;
  return c2 + c3 <= g.successes && c4 + c5 <= g.failures && verified <= g.requests;
}

function isCount(c: number): boolean {
  return Number.isSafeInteger(c) && c >= 0;
}

/**
 * The same rows as INSERT_SQL as a `COPY … FROM STDIN` (text format) and its data: the COPY
 * sink sends it in the one query that also carries the batch's rows and its COMMIT, so the
 * tallies cost no round trip of their own, and PostgreSQL neither plans a statement nor
 * slices arrays for them.
 */
export const PENDING_TALLY_COPY = `COPY rollup_pending (${COLUMNS}) FROM STDIN`;

/** COPY text rows of `groups` for PENDING_TALLY_COPY, checked as pendingTallyParams checks them. */
export function pendingTallyCopyRows(groups: readonly RowGroup[]): Uint8Array {
  const p = pendingTallyParams(groups) as [
    string[], string[], string[], string[], number[], number[], number[], string[], number[], (number | null)[], number[], number[],
    number[], number[], number[], number[], number[],
  ];
  const [kinds, tenants, entities, vendors, minutes, requests, successes, spends, sums, maxima, starts, flat, s2, s3, s4, s5, verified] = p;
  const lines = new Array<string>(groups.length);
  for (let i = 0; i < groups.length; i++) {
    const n = requests[i] as number;
    const from = (starts[i] as number) - 1;
    const max = maxima[i] ?? null;
    lines[i] =
      `${kinds[i]}\t${copyText(tenants[i] as string)}\t${copyText(entities[i] as string)}\t${copyText(vendors[i] as string)}\t` +
      `${new Date(minutes[i] as number).toISOString()}\t${n}\t${successes[i]}\t${n - (successes[i] as number)}\t${spends[i]}\t${sums[i]}\t` +
      `${max === null ? '\\N' : max}\t${n === 0 ? '\\N' : `{${flat.slice(from, from + n).join(',')}}`}\t` +
      `${s2[i]}\t${s3[i]}\t${s4[i]}\t${s5[i]}\t${verified[i]}\n`;
  }
  return Buffer.from(lines.join(''), 'utf8');
}

/** A value in COPY text format: backslash, tab, newline and carriage return escaped. */
function copyText(v: string): string {
  return /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] as string) : v;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Writes a batch's groups into rollup_pending: one statement, run inside the caller's open
 * transaction (the caller commits). Nothing is written for no groups.
 */
export async function writePendingTallies(client: pg.ClientBase, groups: readonly RowGroup[]): Promise<void> {
  if (groups.length === 0) return;
  await client.query({ name: STATEMENT_NAME, text: INSERT_SQL, values: pendingTallyParams(groups) });
}

/** The raw tables whose inserted rows are tallied, and how their RETURNING rows map onto a tally. */
const STAGED: Record<StagedTable, { returning: string; select: string; group: string }> = {
  agent_interactions: {
    returning: 'time, agent_id, vendor_id, latency_ms, success, amount_atomic',
    select: `'agent', '', agent_id, vendor_id`,
    group: 'agent_id, vendor_id',
  },
  gateway_telemetry: {
    returning: 'time, tenant_id, gateway_id, vendor_id, latency_ms, status_code, amount_atomic, payment_verified',
    select: `'gateway', tenant_id, gateway_id, vendor_id`,
    group: 'tenant_id, gateway_id, vendor_id',
  },
};

export type StagedTable = 'agent_interactions' | 'gateway_telemetry';

/**
 * The staged path's statement: `insert` (an `INSERT … SELECT` into `table` that skips
 * duplicates: ON CONFLICT DO NOTHING, or for agent_interactions only the staged rows whose key
 * was new; without RETURNING or a trailing semicolon) wrapped so that the rows it actually
 * inserted are grouped and written into rollup_pending by the same statement. Skipped rows
 * are not returned, so nothing is counted that was not inserted.
 *
 * The minute is cut from the epoch (not date_trunc), so the session's time zone does not
 * matter. `RETURNING …` of the grouped tallies can be appended by the caller if it wants them.
 */
export function stagedPendingSql(table: StagedTable, insert: string): string {
  const s = STAGED[table];
  const success = table === 'agent_interactions' ? 'success' : 'status_code < 400';
  const classes =
    table === 'agent_interactions'
      ? '0, 0, 0, 0, 0'
      : `count(*) FILTER (WHERE status_code BETWEEN 200 AND 299), count(*) FILTER (WHERE status_code BETWEEN 300 AND 399),
       count(*) FILTER (WHERE status_code BETWEEN 400 AND 499), count(*) FILTER (WHERE status_code BETWEEN 500 AND 599),
       count(*) FILTER (WHERE payment_verified)`;
  return `WITH ins AS (${insert} RETURNING ${s.returning}),
  cut AS (SELECT *, to_timestamp(floor(extract(epoch FROM time) / 60) * 60) AS minute FROM ins)
INSERT INTO rollup_pending (${COLUMNS})
SELECT ${s.select}, minute, count(*), count(*) FILTER (WHERE ${success}), count(*) FILTER (WHERE NOT (${success})),
       COALESCE(sum(amount_atomic), 0), sum(latency_ms), max(latency_ms), array_agg(latency_ms),
       ${classes}
FROM cut GROUP BY ${s.group}, minute`;
}
