import { Gauge, type Registry } from 'prom-client';
import type pg from 'pg';

const OUTBOX_SQL = `SELECT count(*)::int AS folds, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS lag FROM rollup_clickhouse_outbox`;

/**
 * How far ClickHouse is behind: the folds waiting in rollup_clickhouse_outbox (any
 * receiver's) and the age of the oldest, read from PostgreSQL when /metrics is scraped.
 * One query at a time: a scrape that comes while one is under way waits for the same answer.
 * When PostgreSQL cannot answer, the collector fails and the exposition serves the last
 * values (src/observability/degrading-exposition.ts).
 */
export function registerOutboxLagMetrics(registry: Registry, pool: pg.Pool): void {
  let inFlight: Promise<{ folds: number; lag: number }> | null = null;
  const read = (): Promise<{ folds: number; lag: number }> => {
    inFlight ??= pool
      .query<{ folds: number; lag: number }>(OUTBOX_SQL)
      .then((r) => r.rows[0] ?? { folds: 0, lag: 0 })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
  // Both gauges share one query per scrape (read() is single-flight).
  new Gauge({
    name: 'machpay_clickhouse_outbox_folds',
    help: 'Fold rounds whose rows wait in the outbox for ClickHouse (all receivers of the database).',
    registers: [registry],
    async collect() {
      this.set((await read()).folds);
    },
  });
  new Gauge({
    name: 'machpay_clickhouse_outbox_lag_seconds',
    help: 'Age of the oldest fold waiting in the outbox for ClickHouse; 0 when it is empty.',
    registers: [registry],
    async collect() {
      this.set(Number((await read()).lag));
    },
  });
}
