import type pg from 'pg';
import { latestBalance } from './balances.js';
import { chartWindow } from './bucket-chart.js';
import { spendSince, tallyByBucket } from './rollup-tallies.js';
import { inSnapshot, SNAPSHOT_TIME_SQL } from './snapshot.js';
import { apiTime, isoMs } from './times.js';
import { bucketWindow, type RequestedWindow } from './window.js';
import type { AgentMetrics, BalanceSnapshot } from '../protocol/index.js';

const HOUR_MS = 3_600_000;
/** The burn rate looks back over the current hour and the 24 whole hours before it. */
const BURN_HOURS = 24;

/** GET /v1/agent/metrics (docs/read-api.md §3), every figure from one snapshot. */
export async function agentMetrics(pool: pg.Pool, agentId: string, requested: RequestedWindow, nowMs: number): Promise<AgentMetrics> {
  const w = bucketWindow(requested);
  const burnFromMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS - BURN_HOURS * HOUR_MS;
  const read = await inSnapshot(pool, async (c) => {
    const t = await c.query<{ t: string }>(SNAPSHOT_TIME_SQL);
    const buckets = await tallyByBucket(c, { kind: 'agent', agentId }, w);
    const burnSpend = await spendSince(c, agentId, burnFromMs);
    const balance = await latestBalance(c, agentId);
    return { completeThrough: t.rows[0]?.t ?? '', buckets, burnSpend, balance };
  });

  const { chart_data, ...totals } = await chartWindow(read.buckets, w);
  const burnMs = nowMs - burnFromMs;
  const burnPerHour = (read.burnSpend * BigInt(HOUR_MS)) / BigInt(burnMs);
  return {
    agent_id: agentId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(read.completeThrough),
    ...totals,
    balance: read.balance,
    burn_rate_atomic_per_hour: burnPerHour.toString(),
    runway_hours: runwayHours(read.balance, read.burnSpend, burnMs),
    chart_data,
  };
}

/** USDC balance ÷ burn rate, in hours (two decimals); null without a rate or a known balance. */
export function runwayHours(balance: BalanceSnapshot | null, spend: bigint, spanMs: number): number | null {
  const usdc = balance?.usdc_balance_atomic ?? null;
  if (usdc === null || spend <= 0n) return null;
  const hours = (Number(BigInt(usdc)) * spanMs) / (Number(spend) * HOUR_MS);
  return Math.max(0, Math.round(hours * 100) / 100);
}
