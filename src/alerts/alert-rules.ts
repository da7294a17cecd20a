import type { AgentContext, EffectiveSettings, OpenAlert } from './agent-context.js';
import type { AgentFigures } from './agent-figures.js';
import { ERROR_WINDOW_MINUTES } from './agent-figures.js';
import type { AlertType, ResolutionReason } from './alert-types.js';
import { formatUsdc } from './usdc.js';

/** What an evaluation decided for one type; nothing at all when the state stays as it is. */
export type Decision =
  | { kind: 'fire'; type: AlertType; message: string; data: Record<string, unknown> }
  | { kind: 'resolve'; alert: OpenAlert; reason: ResolutionReason; values: Record<string, unknown> }
  /** Bookkeeping, not a change of state: when high_error_rate's condition was first seen false. */
  | { kind: 'clear_since'; alert: OpenAlert; atMs: number | null };

/** high_error_rate resolves after its condition has been false this long (docs/read-api.md §5). */
export const ERROR_RATE_CLEAR_MS = 5 * 60_000;
/** stale_telemetry: silence of 3 periods, and never less than 5 minutes… */
export const STALE_PERIODS = 3;
export const STALE_MIN_SECONDS = 300;
/** …of an agent whose latest snapshot is at most a day old. */
export const STALE_REPORTED_WITHIN_MS = 24 * 3_600_000;

const DAY_MS = 86_400_000;

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** Seconds of silence after which an agent's telemetry is stale. */
export function staleAfterSeconds(periodSeconds: number | null): number {
  return Math.max(STALE_PERIODS * Math.max(periodSeconds ?? 0, 0), STALE_MIN_SECONDS);
}

/**
 * The rules of docs/read-api.md §5 for an agent that may raise alerts (linked, enabled):
 * each type compares the figures with the agent's settings and its open alert of that type.
 * A figure that is unknown (no snapshot, a snapshot without a USDC balance) changes nothing.
 */
export function decide(ctx: AgentContext, f: AgentFigures): Decision[] {
  const s = ctx.settings;
  const out: Decision[] = [];
  const push = (d: Decision | null): void => {
    if (d !== null) out.push(d);
  };
  push(lowBalance(s, f, ctx.open.get('low_balance')));
  push(runway(s, f, ctx.open.get('runway')));
  out.push(...spendLimit(s, f, ctx.open.get('spend_limit')));
  push(highErrorRate(s, f, ctx.open.get('high_error_rate')));
  push(staleTelemetry(f, ctx.open.get('stale_telemetry')));
  return out;
}

/** low_balance: the latest snapshot's USDC balance < the threshold; resolved by one at or above it. */
function lowBalance(s: EffectiveSettings, f: AgentFigures, open: OpenAlert | undefined): Decision | null {
  const usdc = f.snapshot?.usdcAtomic ?? null;
  if (usdc === null || f.snapshot === null) return null;
  const values = { usdc_balance_atomic: usdc.toString(), low_balance_threshold_atomic: s.lowBalanceThresholdAtomic.toString(), snapshot_at: f.snapshot.at };
  const below = usdc < s.lowBalanceThresholdAtomic;
  if (below && open === undefined) {
    return {
      kind: 'fire',
      type: 'low_balance',
      message: `USDC balance ${formatUsdc(usdc)} is below the low-balance threshold of ${formatUsdc(s.lowBalanceThresholdAtomic)}.`,
      data: values,
    };
  }
  return !below && open !== undefined ? { kind: 'resolve', alert: open, reason: 'recovered', values } : null;
}

/**
 * runway: runway_hours (§3) < runway_alert_hours. A runway of null because nothing was spent
 * in the burn window is endless (at or above any threshold); null because no balance is
 * known decides nothing.
 */
function runway(s: EffectiveSettings, f: AgentFigures, open: OpenAlert | undefined): Decision | null {
  const usdc = f.snapshot?.usdcAtomic ?? null;
  if (usdc === null) return null;
  const values = {
    runway_hours: f.runwayHours,
    runway_alert_hours: s.runwayAlertHours,
    usdc_balance_atomic: usdc.toString(),
    burn_rate_atomic_per_hour: f.burnRateAtomicPerHour.toString(),
  };
  const short = f.runwayHours !== null && f.runwayHours < s.runwayAlertHours;
  if (short && open === undefined) {
    return {
      kind: 'fire',
      type: 'runway',
      message:
        `At the burn rate of ${formatUsdc(f.burnRateAtomicPerHour)} per hour, the USDC balance of ${formatUsdc(usdc)} ` +
        `lasts ${String(f.runwayHours)} h, under the ${String(s.runwayAlertHours)} h alert threshold.`,
      data: values,
    };
  }
  return !short && open !== undefined ? { kind: 'resolve', alert: open, reason: 'recovered', values } : null;
}

/**
 * spend_limit: spend since 00:00 UTC ≥ the daily limit (and more than nothing: a limit of 0
 * alerts on the day's first spend, not on a day without any); resolved when its UTC day
 * ends, after which the new day is judged on its own spend.
 */
function spendLimit(s: EffectiveSettings, f: AgentFigures, open: OpenAlert | undefined): Decision[] {
  const today = utcDay(f.nowMs);
  const out: Decision[] = [];
  if (open !== undefined) {
    if (utcDay(open.firedAtMs) === today) return out;
    out.push({ kind: 'resolve', alert: open, reason: 'day_ended', values: { day: utcDay(open.firedAtMs) } });
  }
  if (f.spendToday > 0n && f.spendToday >= s.dailySpendLimitAtomic) {
    out.push({
      kind: 'fire',
      type: 'spend_limit',
      message: `Spend since 00:00 UTC is ${formatUsdc(f.spendToday)}, at or over the daily limit of ${formatUsdc(s.dailySpendLimitAtomic)}.`,
      data: { spend_atomic: f.spendToday.toString(), daily_spend_limit_atomic: s.dailySpendLimitAtomic.toString(), day: today },
    });
  }
  return out;
}

/**
 * high_error_rate: over the window, at least error_rate_min_requests requests and a failure
 * share ≥ error_rate_threshold. Resolved once the condition has been false for 5 minutes
 * without a break: the first evaluation that sees it false records the instant, one that sees
 * it true again forgets it.
 */
function highErrorRate(s: EffectiveSettings, f: AgentFigures, open: OpenAlert | undefined): Decision | null {
  const w = f.errorWindow;
  const share = w.requests > 0n ? Number(w.failures) / Number(w.requests) : 0;
  const holds = w.requests >= BigInt(s.errorRateMinRequests) && share >= s.errorRateThreshold;
  const values = {
    requests: Number(w.requests),
    failed_requests: Number(w.failures),
    error_rate: share,
    error_rate_threshold: s.errorRateThreshold,
    error_rate_min_requests: s.errorRateMinRequests,
    window_minutes: ERROR_WINDOW_MINUTES,
    window_from: new Date(w.fromMs).toISOString(),
    window_to: new Date(w.toMs).toISOString(),
  };
  if (open === undefined) {
    if (!holds) return null;
    const pct = (x: number): string => `${String(Math.round(x * 1000) / 10)}%`;
    return {
      kind: 'fire',
      type: 'high_error_rate',
      message: `${String(w.failures)} of ${String(w.requests)} requests in the last ${ERROR_WINDOW_MINUTES} minutes failed (${pct(share)}), at or over the ${pct(s.errorRateThreshold)} threshold.`,
      data: values,
    };
  }
  if (holds) return open.clearSinceMs === null ? null : { kind: 'clear_since', alert: open, atMs: null };
  if (open.clearSinceMs === null) return { kind: 'clear_since', alert: open, atMs: f.nowMs };
  if (f.nowMs - open.clearSinceMs < ERROR_RATE_CLEAR_MS) return null;
  return { kind: 'resolve', alert: open, reason: 'recovered', values: { ...values, below_since: new Date(open.clearSinceMs).toISOString() } };
}

/**
 * stale_telemetry: the latest snapshot is at most 24 h old and older than 3 × its
 * period_seconds (at least 5 minutes; a snapshot without a period waits the 5 minutes).
 * Resolved by any snapshot newer than the one it fired on.
 */
function staleTelemetry(f: AgentFigures, open: OpenAlert | undefined): Decision | null {
  const snap = f.snapshot;
  if (snap === null) return null;
  if (open !== undefined) {
    const firedOn = open.data.last_snapshot_at;
    return typeof firedOn === 'string' && snap.atMicros > asMicros(firedOn)
      ? { kind: 'resolve', alert: open, reason: 'recovered', values: { snapshot_at: snap.at } }
      : null;
  }
  const silentMs = f.nowMs - snap.atMs;
  const after = staleAfterSeconds(snap.periodSeconds);
  if (silentMs > STALE_REPORTED_WITHIN_MS || silentMs < after * 1000) return null;
  return {
    kind: 'fire',
    type: 'stale_telemetry',
    message: `No telemetry snapshot since ${snap.at}: ${String(Math.floor(silentMs / 1000))} s of silence, past the ${after} s allowed.`,
    data: { last_snapshot_at: snap.at, period_seconds: snap.periodSeconds, stale_after_seconds: after },
  };
}

/** An API time (milliseconds, or microseconds when the row had them) in the fixed-width microsecond form. */
function asMicros(apiTime: string): string {
  return /\.\d{3}Z$/.test(apiTime) ? `${apiTime.slice(0, -1)}000Z` : apiTime;
}
