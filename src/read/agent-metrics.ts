import type pg from 'pg';
import { accessSql, type AgentAccess } from './agent-access.js';
import { chartWindow } from './bucket-chart.js';
import { bucketTalliesSql, spendSinceSql, tallyParams, talliesByKey, type TallyRow } from './rollup-tallies.js';
import { COMPLETE_THROUGH_SQL } from './snapshot.js';
import { apiTime, isoMs, utcMicros } from './times.js';
import { queryWithGenericPlan, statementPerUnit } from './prepared.js';
import { bucketWindow, type RequestedWindow } from './window.js';
import type { AgentMetrics, BalanceSnapshot } from '../protocol/index.js';

const HOUR_MS = 3_600_000;
/** The burn rate looks back over the current hour and the 24 whole hours before it. */
const BURN_HOURS = 24;

type MetricsRow = TallyRow & { t: string; burn: string; bal_t: string | null; usdc: string | null; sol: string | null };

/*
 * One statement, so one round trip and one snapshot: a head row (complete_through, the burn
 * spend, the latest balance), present only when the access holds, joined with the window's
 * bucket tallies (none: one row with a null key). $1–$4 the tallies' parameters, $5 the
 * reading tenant (null: the agent itself), $6 the burn rate's start.
 */
const metricsStatement = statementPerUnit('read-agent-metrics', (unit) => `WITH head AS (
    SELECT ${COMPLETE_THROUGH_SQL} AS t, ${spendSinceSql('$1', '$6')}::text AS burn, bal.t AS bal_t, bal.usdc, bal.sol
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (SELECT ${utcMicros('time')} AS t, usdc_balance_atomic::text AS usdc, sol_balance_lamports::text AS sol
                       FROM agent_telemetry WHERE agent_id = $1 ORDER BY time DESC LIMIT 1) bal ON true
    WHERE ${accessSql('$1', '$5')})
  SELECT head.*, b.* FROM head LEFT JOIN (${bucketTalliesSql('agent', unit)}) b ON true`);

/** GET /v1/agent/metrics (docs/read-api.md §3), every figure from one snapshot; null when the access does not hold. */
export async function agentMetrics(pool: pg.Pool, access: AgentAccess, requested: RequestedWindow, nowMs: number): Promise<AgentMetrics | null> {
  const { agentId } = access;
  const w = bucketWindow(requested);
  const burnFromMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS - BURN_HOURS * HOUR_MS;
  const { rows } = await queryWithGenericPlan<MetricsRow>(
    pool,
    metricsStatement(w.unit, [...tallyParams({ kind: 'agent', agentId }, w), access.tenantId, new Date(burnFromMs).toISOString()]),
  );
  const head = rows[0];
  if (head === undefined) return null;
  const balance: BalanceSnapshot | null =
    head.bal_t === null ? null : { usdc_balance_atomic: head.usdc, sol_balance_lamports: head.sol, at: apiTime(head.bal_t) };
  const burnSpend = BigInt(head.burn);

  const { chart_data, ...totals } = await chartWindow(talliesByKey(rows, Number), w);
  const burnMs = nowMs - burnFromMs;
  const burnPerHour = (burnSpend * BigInt(HOUR_MS)) / BigInt(burnMs);
  return {
    agent_id: agentId,
    from: isoMs(w.fromMs),
    to: isoMs(w.toMs),
    complete_through: apiTime(head.t),
    ...totals,
    balance,
    burn_rate_atomic_per_hour: burnPerHour.toString(),
    runway_hours: runwayHours(balance, burnSpend, burnMs),
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
