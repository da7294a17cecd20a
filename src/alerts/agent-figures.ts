import type pg from 'pg';
import { apiTime, bucketTalliesSql, runwayHours, spendSinceSql, tallyParams, utcMicros } from '../read/index.js';

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

interface FiguresRow {
  t: string | null;
  ms: string | null;
  usdc: string | null;
  period: number | null;
  today: string;
  burn: string;
  req: string | null;
  bad: string | null;
}

/*
 * One statement, so one round trip and one snapshot: folded rows and pending tallies are read
 * as of one instant, so no event is counted twice or missed while a folder moves it. $1 the
 * agent, $2–$4 the error-rate window's minute tallies (rollup-tallies' parameters), $5 the
 * day's start, $6 the burn rate's start.
 */
const FIGURES_SQL = `WITH errors AS (${bucketTalliesSql('agent', 'minute')})
  SELECT snap.*, ${spendSinceSql('$1', '$5')}::text AS today, ${spendSinceSql('$1', '$6')}::text AS burn,
         (SELECT sum(req::numeric)::text FROM errors) AS req, (SELECT sum(bad::numeric)::text FROM errors) AS bad
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (SELECT ${utcMicros('time')} AS t, (extract(epoch FROM time) * 1000)::bigint::text AS ms,
                            usdc_balance_atomic::text AS usdc, period_seconds AS period
                     FROM agent_telemetry WHERE agent_id = $1 ORDER BY time DESC LIMIT 1) snap ON true`;

/**
 * The figures of one agent at `nowMs`, from the same rollups and SQL the read API answers
 * with, so an alert and the metrics an owner then looks at agree; one statement (above).
 *
 * The error-rate window is whole minutes, as the rollups count them: the current minute and
 * the four before it. The burn rate covers the current hour and the 24 whole hours before it,
 * as §3's does.
 */
export async function readAgentFigures(pool: pg.Pool, agentId: string, nowMs: number): Promise<AgentFigures> {
  const dayStartMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const burnFromMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS - 24 * HOUR_MS;
  const { fromMs: errFromMs, toMs: errToMs } = errorRateWindow(nowMs);
  const window = { fromMs: errFromMs, toMs: errToMs, unit: 'minute', bucketMs: MINUTE_MS } as const;
  const { rows } = await pool.query<FiguresRow>({
    name: 'alert-agent-figures',
    text: FIGURES_SQL,
    values: [...tallyParams({ kind: 'agent', agentId }, window), new Date(dayStartMs).toISOString(), new Date(burnFromMs).toISOString()],
  });
  const f = rows[0] as FiguresRow;
  const spendToday = BigInt(f.today);
  const burnSpend = BigInt(f.burn);
  const requests = BigInt(f.req ?? '0');
  const failures = BigInt(f.bad ?? '0');
  const snapshot: LatestSnapshot | null =
    f.t === null
      ? null
      : { atMicros: f.t, at: apiTime(f.t), atMs: Number(f.ms), usdcAtomic: f.usdc === null ? null : BigInt(f.usdc), periodSeconds: f.period };
  const burnMs = nowMs - burnFromMs;
  const balance = snapshot === null ? null : { usdc_balance_atomic: f.usdc, sol_balance_lamports: null, at: snapshot.at };
  return {
    nowMs,
    snapshot,
    spendToday,
    burnRateAtomicPerHour: (burnSpend * BigInt(HOUR_MS)) / BigInt(burnMs),
    runwayHours: runwayHours(balance, burnSpend, burnMs),
    errorWindow: { fromMs: errFromMs, toMs: errToMs, requests, failures },
  };
}
