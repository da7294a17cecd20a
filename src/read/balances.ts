import type pg from 'pg';
import { accessSql, type AgentAccess } from './agent-access.js';
import { queryWithGenericPlan } from './prepared.js';
import { apiTime, utcMicros } from './times.js';
import type { RequestedWindow } from './window.js';
import type { BalancePoint } from '../protocol/index.js';

interface SnapshotRow {
  t: string;
  usdc: string | null;
  sol: string | null;
}

type NullableRow = Omit<SnapshotRow, 't'> & { t: string | null };

export const MAX_BALANCE_POINTS = 1000;

const BALANCE_POINTS = `WITH head AS (SELECT 1 WHERE ${accessSql('$1', '$4')})
  SELECT p.* FROM head LEFT JOIN LATERAL (
    SELECT ${utcMicros('time')} AS t, usdc_balance_atomic::text AS usdc, sol_balance_lamports::text AS sol
    FROM agent_telemetry WHERE agent_id = $1 AND time >= $2::timestamptz AND time < $3::timestamptz
    ORDER BY time LIMIT ${MAX_BALANCE_POINTS + 1}) p ON true`;

/**
 * The snapshots of [from, to), oldest first. Past 1000 of them, the window is cut into 1000
 * equal slices and each non-empty slice gives its last snapshot, so the line keeps the
 * latest value of every stretch (a balance is a level, not a sum to be averaged).
 */
export async function balancePoints(c: pg.Pool, access: AgentAccess, w: RequestedWindow): Promise<BalancePoint[] | null> {
  const { agentId } = access;
  const from = new Date(w.fromMs).toISOString();
  const to = new Date(w.toMs).toISOString();
  // The access check ($4) and the points in one statement, as the metrics' (agent-metrics.ts);
  // no points is one row of nulls.
  const all = await queryWithGenericPlan<NullableRow>(c, {
    name: 'read-balance-points',
    text: BALANCE_POINTS,
    values: [agentId, from, to, access.tenantId],
  });
  if (all.rows.length === 0) return null;
  const points = all.rows.filter((r): r is SnapshotRow => r.t !== null);
  if (points.length <= MAX_BALANCE_POINTS) return points.map(toPoint);
  const sliced = await c.query<SnapshotRow>(
    `SELECT t, usdc, sol FROM (
       SELECT DISTINCT ON (slice) ${utcMicros('time')} AS t, time, usdc_balance_atomic::text AS usdc, sol_balance_lamports::text AS sol
       FROM (SELECT *, floor(extract(epoch FROM time - $2::timestamptz) * 1000 * ${MAX_BALANCE_POINTS} / $4::numeric) AS slice
             FROM agent_telemetry WHERE agent_id = $1 AND time >= $2::timestamptz AND time < $3::timestamptz) s
       ORDER BY slice, time DESC) last ORDER BY time`,
    [agentId, from, to, w.toMs - w.fromMs],
  );
  return sliced.rows.map(toPoint);
}

function toPoint(r: SnapshotRow): BalancePoint {
  return { time: apiTime(r.t), usdc_balance_atomic: r.usdc, sol_balance_lamports: r.sol };
}
