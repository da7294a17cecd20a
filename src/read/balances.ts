import type pg from 'pg';
import { apiTime, utcMicros } from './times.js';
import type { RequestedWindow } from './window.js';
import type { BalancePoint, BalanceSnapshot } from '../protocol/index.js';

interface SnapshotRow {
  t: string;
  usdc: string | null;
  sol: string | null;
}

/** The agent's latest telemetry snapshot, or null when it never sent one. */
export async function latestBalance(c: pg.ClientBase | pg.Pool, agentId: string): Promise<BalanceSnapshot | null> {
  const { rows } = await c.query<SnapshotRow>(
    `SELECT ${utcMicros('time')} AS t, usdc_balance_atomic::text AS usdc, sol_balance_lamports::text AS sol
     FROM agent_telemetry WHERE agent_id = $1 ORDER BY time DESC LIMIT 1`,
    [agentId],
  );
  const r = rows[0];
  return r === undefined ? null : { usdc_balance_atomic: r.usdc, sol_balance_lamports: r.sol, at: apiTime(r.t) };
}

export const MAX_BALANCE_POINTS = 1000;

/**
 * The snapshots of [from, to), oldest first. Past 1000 of them, the window is cut into 1000
 * equal slices and each non-empty slice gives its last snapshot, so the line keeps the
 * latest value of every stretch (a balance is a level, not a sum to be averaged).
 */
export async function balancePoints(c: pg.Pool, agentId: string, w: RequestedWindow): Promise<BalancePoint[]> {
  const from = new Date(w.fromMs).toISOString();
  const to = new Date(w.toMs).toISOString();
  const all = await c.query<SnapshotRow>(
    `SELECT ${utcMicros('time')} AS t, usdc_balance_atomic::text AS usdc, sol_balance_lamports::text AS sol
     FROM agent_telemetry WHERE agent_id = $1 AND time >= $2::timestamptz AND time < $3::timestamptz
     ORDER BY time LIMIT ${MAX_BALANCE_POINTS + 1}`,
    [agentId, from, to],
  );
  if (all.rows.length <= MAX_BALANCE_POINTS) return all.rows.map(toPoint);
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
