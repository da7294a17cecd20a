/**
 * Rows for the tables the read side sums, built the way the rollups write them: minute and
 * day rows per vendor, hour rows with vendor_breakdown, and pending tallies (raw latencies
 * or a histogram). Each fixture remembers its raw latencies and spend, so the tests compare
 * the API with the truth and not with the same code.
 */
import type pg from 'pg';
import { encodeHistogram, HIGHEST_LATENCY_MS, newMergeHistogram } from '../../src/rollups/index.js';

export interface Cell {
  vendor: string;
  latencies: number[];
  failures: number;
  spend: bigint;
}

export function cell(vendor: string, latencies: number[], spend: bigint, failures = 0): Cell {
  return { vendor, latencies, failures, spend };
}

export function histogramOf(latencies: readonly number[]): string {
  const h = newMergeHistogram();
  for (const v of latencies) h.recordValue(Math.min(v, HIGHEST_LATENCY_MS));
  return encodeHistogram(h);
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** agent_stats_minute / agent_stats_daily: one row per vendor. */
export async function insertBucketRow(pool: pg.Pool, table: 'agent_stats_minute' | 'agent_stats_daily', agentId: string, bucket: Date, c: Cell): Promise<void> {
  await pool.query(
    `INSERT INTO ${table} (agent_id, bucket, vendor_id, total_requests, successful_requests, failed_requests, total_spend_atomic,
                           latency_sum_ms, max_latency_ms, latency_histogram)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [agentId, bucket, c.vendor, c.latencies.length, c.latencies.length - c.failures, c.failures, c.spend.toString(), sum(c.latencies), Math.max(...c.latencies), histogramOf(c.latencies)],
  );
}

/** agent_stats_hourly: one row for the hour, vendors in vendor_breakdown (src/rollups/hourly-row-merge.ts). */
export async function insertHourRow(pool: pg.Pool, agentId: string, bucket: Date, cells: readonly Cell[]): Promise<void> {
  const all = cells.flatMap((c) => c.latencies);
  const breakdown: Record<string, unknown> = {};
  for (const c of cells) {
    breakdown[c.vendor] = {
      requests: c.latencies.length,
      successes: c.latencies.length - c.failures,
      failures: c.failures,
      spend_atomic: c.spend.toString(),
      latency_sum_ms: sum(c.latencies),
      avg_latency_ms: sum(c.latencies) / c.latencies.length,
      p50_latency_ms: null,
      p90_latency_ms: null,
      p99_latency_ms: null,
      max_latency_ms: Math.max(...c.latencies),
      latency_histogram: histogramOf(c.latencies),
    };
  }
  const failures = cells.reduce((a, c) => a + c.failures, 0);
  await pool.query(
    `INSERT INTO agent_stats_hourly (bucket, agent_id, total_requests, successful_requests, failed_requests, total_spend_atomic,
                                     latency_sum_ms, max_latency_ms, latency_histogram, vendor_breakdown)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [bucket, agentId, all.length, all.length - failures, failures, cells.reduce((a, c) => a + c.spend, 0n).toString(), sum(all), Math.max(...all), histogramOf(all), JSON.stringify(breakdown)],
  );
}

/** A pending tally of one minute: raw latencies (as the ingest side writes them) or a histogram. */
export async function insertPending(
  pool: pg.Pool,
  agentId: string,
  minute: Date,
  c: Cell,
  form: 'raw' | 'histogram' = 'raw',
  gatewayOf: string | null = null,
): Promise<void> {
  await pool.query(
    `INSERT INTO rollup_pending (kind, tenant_id, entity_id, vendor_id, minute, total_requests, successful_requests, failed_requests,
                                 total_spend_atomic, latency_sum_ms, max_latency_ms, latencies, latency_histogram)
     VALUES ($12, $13, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      agentId,
      c.vendor,
      minute,
      c.latencies.length,
      c.latencies.length - c.failures,
      c.failures,
      c.spend.toString(),
      sum(c.latencies),
      Math.max(...c.latencies),
      form === 'raw' ? c.latencies : null,
      form === 'histogram' ? histogramOf(c.latencies) : null,
      gatewayOf === null ? 'agent' : 'gateway',
      gatewayOf ?? '',
    ],
  );
}

/** Deterministic latencies with a long tail past 2048 ms, where HDR buckets widen. */
export function latencies(n: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const u = x / 2 ** 32;
    out.push(u < 0.9 ? 5 + Math.floor(u * 400) : 2000 + Math.floor(u * u * 60_000));
  }
  return out;
}
