import type pg from 'pg';
import { apiTime, runwayHours, spendSince, tallyByBucket, utcMicros } from '../read/index.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** high_error_rate's window (docs/read-api.md §5): the last 5 minutes. */
export const ERROR_WINDOW_MINUTES = 5;

/** The error-rate window at `nowMs`: the current UTC minute and the four before it, [fromMs, toMs). */
export function errorRateWindow(nowMs: number): { fromMs: number; toMs: number } {
  const toMs = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  return { fromMs: toMs - ERROR_WINDOW_MINUTES * MINUTE_MS, toMs };
}

/** The agent's latest telemetry snapshot. */
export interface LatestSnapshot {
  /** RFC 3339 with the row's microseconds (comparable as text: fixed width, UTC). */
  atMicros: string;
  /** The API's form of the same instant. */
  at: string;
  atMs: number;
  usdcAtomic: bigint | null;
  periodSeconds: number | null;
}

/** Everything the five rules look at, read in one snapshot of the database. */
export interface AgentFigures {
  nowMs: number;
  snapshot: LatestSnapshot | null;
  /** Spend since 00:00 UTC of `nowMs`'s day. */
  spendToday: bigint;
  /** docs/read-api.md §3, computed exactly as GET /v1/agent/metrics does. */
  burnRateAtomicPerHour: bigint;
  runwayHours: number | null;
  /** Requests and failures in the error-rate window [fromMs, toMs). */
  errorWindow: { fromMs: number; toMs: number; requests: bigint; failures: bigint };
}

interface SnapshotRow {
  t: string;
  ms: string;
  usdc: string | null;
  period: number | null;
}

/**
 * The figures of one agent at `nowMs`, from the same rollups and queries the read API
 * answers with, so an alert and the metrics an owner then looks at agree. `c` runs inside a
 * REPEATABLE READ transaction (the read side's inSnapshot): folded rows and pending tallies
 * are read as of one instant, so no event is counted twice or missed while a folder moves it.
 *
 * The error-rate window is whole minutes, as the rollups count them: the current minute and
 * the four before it. The burn rate covers the current hour and the 24 whole hours before it,
 * as §3's does.
 */
export async function readAgentFigures(c: pg.ClientBase, agentId: string, nowMs: number): Promise<AgentFigures> {
  const dayStartMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const burnFromMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS - 24 * HOUR_MS;
  const { fromMs: errFromMs, toMs: errToMs } = errorRateWindow(nowMs);
  const snap = await c.query<SnapshotRow>(
    `SELECT ${utcMicros('time')} AS t, (extract(epoch FROM time) * 1000)::bigint::text AS ms,
            usdc_balance_atomic::text AS usdc, period_seconds AS period
     FROM agent_telemetry WHERE agent_id = $1 ORDER BY time DESC LIMIT 1`,
    [agentId],
  );
  const spendToday = await spendSince(c, agentId, dayStartMs);
  const burnSpend = await spendSince(c, agentId, burnFromMs);
  const tallies = await tallyByBucket(c, { kind: 'agent', agentId }, { fromMs: errFromMs, toMs: errToMs, unit: 'minute', bucketMs: MINUTE_MS });
  let requests = 0n;
  let failures = 0n;
  for (const t of tallies.values()) {
    requests += t.requests;
    failures += t.failures;
  }
  const r = snap.rows[0];
  const snapshot: LatestSnapshot | null =
    r === undefined
      ? null
      : { atMicros: r.t, at: apiTime(r.t), atMs: Number(r.ms), usdcAtomic: r.usdc === null ? null : BigInt(r.usdc), periodSeconds: r.period };
  const burnMs = nowMs - burnFromMs;
  const balance = snapshot === null ? null : { usdc_balance_atomic: r?.usdc ?? null, sol_balance_lamports: null, at: snapshot.at };
  return {
    nowMs,
    snapshot,
    spendToday,
    burnRateAtomicPerHour: (burnSpend * BigInt(HOUR_MS)) / BigInt(burnMs),
    runwayHours: runwayHours(balance, burnSpend, burnMs),
    errorWindow: { fromMs: errFromMs, toMs: errToMs, requests, failures },
  };
}
