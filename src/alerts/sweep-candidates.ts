import type pg from 'pg';
import { STALE_MIN_SECONDS, STALE_PERIODS, STALE_REPORTED_WITHIN_MS } from './alert-rules.js';

/*
 * Which agents the sweep hands to the evaluator: those whose alerts can change with time
 * alone, with no new event. Each query returns at most `limit` ids; a full answer means
 * there may be more, and the evaluator then covers every agent with a full pass.
 */

/**
 * Agents with an open alert that can end with time alone: runway (the burn rate falls as its
 * window grows), high_error_rate (5 minutes below), spend_limit fired on an earlier UTC day,
 * and any open alert of an agent that turned its alerts off or left the alert's tenant.
 * low_balance and stale_telemetry end only with a new snapshot, whose commit touches the
 * agent: an agent that has gone silent for good costs the sweep nothing.
 */
export async function agentsWithExpiringAlerts(pool: pg.Pool, nowMs: number, enabledByDefault: boolean, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ agent_id: string }>(
    `SELECT DISTINCT al.agent_id FROM agent_alerts al JOIN agents a ON a.pubkey = al.agent_id
     WHERE al.state = 'firing'
       AND (al.type IN ('runway', 'high_error_rate')
            OR (al.type = 'spend_limit' AND al.fired_at < date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
            OR a.tenant_id IS DISTINCT FROM al.tenant_id OR NOT COALESCE(a.alerts_enabled, $2))
     LIMIT $3`,
    [new Date(nowMs).toISOString(), enabledByDefault, limit],
  );
  return rows.map((r) => r.agent_id);
}

/**
 * Linked agents that may raise alerts and whose latest snapshot, at most 24 h old, is older
 * than their stale limit, without an open stale_telemetry alert: one index probe of
 * agent_telemetry per linked agent, in the partitions of the last day only.
 */
export async function staleCandidates(pool: pg.Pool, nowMs: number, enabledByDefault: boolean, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ pubkey: string }>(
    `SELECT a.pubkey FROM agents a
     CROSS JOIN LATERAL (
       SELECT t.time, t.period_seconds FROM agent_telemetry t
       WHERE t.agent_id = a.pubkey AND t.time > $1::timestamptz - make_interval(secs => $4::double precision / 1000)
       ORDER BY t.time DESC LIMIT 1) s
     WHERE a.tenant_id IS NOT NULL AND COALESCE(a.alerts_enabled, $2)
       AND s.time <= $1::timestamptz - make_interval(secs => GREATEST($5 * GREATEST(COALESCE(s.period_seconds, 0), 0), $6))
       AND NOT EXISTS (SELECT 1 FROM agent_alerts al WHERE al.agent_id = a.pubkey AND al.type = 'stale_telemetry' AND al.state = 'firing')
     LIMIT $3`,
    [new Date(nowMs).toISOString(), enabledByDefault, limit, STALE_REPORTED_WITHIN_MS, STALE_PERIODS, STALE_MIN_SECONDS],
  );
  return rows.map((r) => r.pubkey);
}

/**
 * Linked agents, with alerts on and no open high_error_rate alert, whose requests in the
 * error-rate window [fromMs, toMs) (folded or pending) meet their high_error_rate condition:
 * the window moves every minute, and a minute of successes leaving it can raise the failure
 * share with no new event. Computed in the database, so the sweep hands the evaluator only
 * the agents about to fire, not every agent with traffic.
 */
export async function agentsCrossingErrorRate(
  pool: pg.Pool,
  w: { fromMs: number; toMs: number },
  d: { alertsEnabled: boolean; errorRateMinRequests: number; errorRateThreshold: number },
  limit: number,
): Promise<string[]> {
  const { rows } = await pool.query<{ agent: string }>(
    `SELECT x.agent FROM (
       SELECT entity_id AS agent, total_requests::bigint AS req, failed_requests::bigint AS bad FROM rollup_pending
        WHERE kind = 'agent' AND minute >= $1::timestamptz AND minute < $2::timestamptz
       UNION ALL
       SELECT agent_id, total_requests, failed_requests FROM agent_stats_minute WHERE bucket >= $1::timestamptz AND bucket < $2::timestamptz) x
     JOIN agents a ON a.pubkey = x.agent AND a.tenant_id IS NOT NULL AND COALESCE(a.alerts_enabled, $3)
     WHERE NOT EXISTS (SELECT 1 FROM agent_alerts al WHERE al.agent_id = x.agent AND al.type = 'high_error_rate' AND al.state = 'firing')
     GROUP BY x.agent, a.error_rate_min_requests, a.error_rate_threshold
     HAVING sum(x.req) > 0 AND sum(x.req) >= COALESCE(a.error_rate_min_requests, $4)
        AND sum(x.bad)::double precision / sum(x.req)::double precision >= COALESCE(a.error_rate_threshold, $5)
     LIMIT $6`,
    [new Date(w.fromMs).toISOString(), new Date(w.toMs).toISOString(), d.alertsEnabled, d.errorRateMinRequests, d.errorRateThreshold, limit],
  );
  return rows.map((r) => r.agent);
}

/**
 * Linked agents with spend since `fromMs` (hourly rows and pending tallies): when an hour
 * leaves the burn-rate window, the rate is spread over a shorter span and a runway can drop
 * below its threshold without any new event.
 */
export async function agentsWithSpendSince(pool: pg.Pool, fromMs: number, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ agent: string }>(
    `SELECT x.agent FROM (
       SELECT agent_id AS agent FROM agent_stats_hourly WHERE bucket >= $1::timestamptz AND total_spend_atomic > 0
       UNION SELECT entity_id FROM rollup_pending WHERE kind = 'agent' AND minute >= $1::timestamptz AND total_spend_atomic > 0) x
     JOIN agents a ON a.pubkey = x.agent AND a.tenant_id IS NOT NULL
     LIMIT $2`,
    [new Date(fromMs).toISOString(), limit],
  );
  return rows.map((r) => r.agent);
}

/** One page of every linked agent, by public key: the full pass. */
export async function linkedAgentsAfter(pool: pg.Pool, afterPubkey: string, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ pubkey: string }>(
    `SELECT pubkey FROM agents WHERE pubkey > $1 AND tenant_id IS NOT NULL ORDER BY pubkey LIMIT $2`,
    [afterPubkey, limit],
  );
  return rows.map((r) => r.pubkey);
}
