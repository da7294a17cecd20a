import type pg from 'pg';
import { latestBalance, type BalanceSnapshot } from './balances.js';
import { LatencyMerger, newTotalHistogram } from './latency-summary.js';
import { addTally, emptyTally, spendSince, tallyByBucket } from './rollup-tallies.js';
import { inSnapshot, SNAPSHOT_TIME_SQL } from './snapshot.js';
import { apiTime, isoMs } from './times.js';
import { bucketWindow, type RequestedWindow } from './window.js';

export interface ChartPoint {
  bucket: string;
  requests: number;
  failed_requests: number;
  spend_atomic: string;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
}

export interface AgentMetrics {
  agent_id: string;
  from: string;
  to: string;
  complete_through: string;
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  success_rate: number | null;
  total_spend_atomic: string;
  avg_latency_ms: number | null;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
  balance: BalanceSnapshot | null;
  burn_rate_atomic_per_hour: string;
  runway_hours: number | null;
  chart_data: ChartPoint[];
}

const HOUR_MS = 3_600_000;
/** The burn rate looks back over the current hour and the 24 whole hours before it. */
const BURN_HOURS = 24;

/** GET /v1/agent/metrics (docs/read-api.md §3), every figure from one snapshot. */
export async function agentMetrics(pool: pg.Pool, agentId: string, requested: RequestedWindow, nowMs: number): Promise<AgentMetrics> {
  const w = bucketWindow(requested);
  const burnFromMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS - BURN_HOURS * HOUR_MS;
  const read = await inSnapshot(pool, async (c) => {
    const t = await c.query<{ t: string }>(SNAPSHOT_TIME_SQL);
    const buckets = await tallyByBucket(c, agentId, w);
    const burnSpend = await spendSince(c, agentId, burnFromMs);
    const balance = await latestBalance(c, agentId);
    return { completeThrough: t.rows[0]?.t ?? '', buckets, burnSpend, balance };
  });

  const merger = new LatencyMerger();
  const total = newTotalHistogram();
  const sum = emptyTally();
  const chart: ChartPoint[] = [];
  for (let b = w.fromMs; b < w.toMs; b += w.bucketMs) {
    const t = read.buckets.get(b) ?? emptyTally();
    addTally(sum, t);
    const lat = merger.figures(t.histograms, t.rawLatencies, total);
    chart.push({
      bucket: isoMs(b),
      requests: Number(t.requests),
      failed_requests: Number(t.failures),
      spend_atomic: t.spend.toString(),
      p50_latency_ms: lat.p50,
      p99_latency_ms: lat.p99,
    });
  }
  const overall = LatencyMerger.read(total);
  const burnMs = nowMs - burnFromMs;
  const burnPerHour = (read.burnSpend * BigInt(HOUR_MS)) / BigInt(burnMs);
  return {
    agent_id: agentId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(read.completeThrough),
    total_requests: Number(sum.requests),
    successful_requests: Number(sum.successes),
    failed_requests: Number(sum.failures),
    success_rate: sum.requests > 0n ? Number(sum.successes) / Number(sum.requests) : null,
    total_spend_atomic: sum.spend.toString(),
    avg_latency_ms: sum.requests > 0n ? Number(sum.latencySum) / Number(sum.requests) : null,
    p50_latency_ms: overall.p50,
    p99_latency_ms: overall.p99,
    balance: read.balance,
    burn_rate_atomic_per_hour: burnPerHour.toString(),
    runway_hours: runwayHours(read.balance, read.burnSpend, burnMs),
    chart_data: chart,
  };
}

/** USDC balance ÷ burn rate, in hours (two decimals); null without a rate or a known balance. */
export function runwayHours(balance: BalanceSnapshot | null, spend: bigint, spanMs: number): number | null {
  const usdc = balance?.usdc_balance_atomic ?? null;
  if (usdc === null || spend <= 0n) return null;
  const hours = (Number(BigInt(usdc)) * spanMs) / (Number(spend) * HOUR_MS);
  return Math.max(0, Math.round(hours * 100) / 100);
}
