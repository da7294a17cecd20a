/**
 * Gateway groups with status classes and verified payments (schema/postgres/012,
 * schema/clickhouse/003), for the tests that compare ClickHouse's rollup_minute with
 * PostgreSQL's gateway_stats tables.
 */
import type { RollupGroup } from '../../src/rollups/index.js';

/** The five columns, named alike in gateway_stats_* and rollup_minute. */
export const STATUS_COLUMNS = ['status_2xx', 'status_3xx', 'status_4xx', 'status_5xx', 'payments_verified'] as const;

export type StatusTotals = Record<(typeof STATUS_COLUMNS)[number], string>;

/**
 * `g` with classes that add up as a gateway's do: its failures split between 4xx and 5xx, its
 * successes between 2xx, 3xx and 1xx (the rest), some of its requests verified. `seed` varies
 * the split, so that sums over groups catch a column written into another.
 */
export function withStatusClasses(g: RollupGroup, seed: number): RollupGroup {
  const s = Math.abs(seed);
  const status5xx = Math.min(g.failures, 1 + (s % 2));
  const status3xx = Math.min(g.successes, s % 3);
  const status1xx = Math.min(g.successes - status3xx, s % 2);
  return {
    ...g,
    status2xx: g.successes - status3xx - status1xx,
    status3xx,
    status4xx: g.failures - status5xx,
    status5xx,
    paymentsVerified: Math.max(0, g.requests - 1 - (s % 3)),
  };
}

/** SQL select-list of the five sums as text, for either store (`toString(sum(c))` or `sum(c)::text`). */
export function statusSums(dialect: 'clickhouse' | 'postgres'): string {
  return STATUS_COLUMNS.map((c) => (dialect === 'clickhouse' ? `toString(sum(${c})) AS ${c}` : `sum(${c})::text AS ${c}`)).join(', ');
}
