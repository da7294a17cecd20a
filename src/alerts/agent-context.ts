import type pg from 'pg';
import type { AlertDefaults } from '../read/index.js';
import type { AlertType } from './alert-types.js';

/** An agent's effective alert settings: its own where set, the configured default elsewhere. */
export interface EffectiveSettings {
  lowBalanceThresholdAtomic: bigint;
  runwayAlertHours: number;
  dailySpendLimitAtomic: bigint;
  errorRateThreshold: number;
  errorRateMinRequests: number;
  alertsEnabled: boolean;
}

/** An open alert as the evaluator needs it. */
export interface OpenAlert {
  id: string;
  tenantId: string;
  type: AlertType;
  firedAtMs: number;
  clearSinceMs: number | null;
  data: Record<string, unknown>;
}

/** What one evaluation of an agent starts from. */
export interface AgentContext {
  agentId: string;
  /** null: not linked to a tenant. */
  tenantId: string | null;
  settings: EffectiveSettings;
  open: Map<AlertType, OpenAlert>;
}

interface AgentRow {
  pubkey: string;
  tenant_id: string | null;
  low_balance_threshold_atomic: string | null;
  runway_alert_hours: number | null;
  daily_spend_limit_atomic: string | null;
  error_rate_threshold: number | null;
  error_rate_min_requests: number | null;
  alerts_enabled: boolean | null;
}

interface OpenRow {
  id: string;
  agent_id: string;
  tenant_id: string;
  type: AlertType;
  fired_ms: string;
  clear_ms: string | null;
  data: Record<string, unknown>;
}

/**
 * The settings, tenant and open alerts of `agentIds`, two statements for the whole round.
 * Agents the receiver does not know are absent (they cannot have alerts: agent_alerts
 * references agents).
 */
export async function loadAgentContexts(pool: pg.Pool, agentIds: readonly string[], d: AlertDefaults): Promise<AgentContext[]> {
  const agents = await pool.query<AgentRow>(
    `SELECT pubkey, tenant_id, low_balance_threshold_atomic::text AS low_balance_threshold_atomic, runway_alert_hours,
            daily_spend_limit_atomic::text AS daily_spend_limit_atomic, error_rate_threshold, error_rate_min_requests, alerts_enabled
     FROM agents WHERE pubkey = ANY ($1::varchar[])`,
    [agentIds],
  );
  const open = await pool.query<OpenRow>(
    `SELECT id, agent_id, tenant_id, type, (extract(epoch FROM fired_at) * 1000)::bigint::text AS fired_ms,
            (extract(epoch FROM clear_since) * 1000)::bigint::text AS clear_ms, data
     FROM agent_alerts WHERE agent_id = ANY ($1::varchar[]) AND state = 'firing'`,
    [agentIds],
  );
  const byAgent = new Map<string, Map<AlertType, OpenAlert>>();
  for (const r of open.rows) {
    let m = byAgent.get(r.agent_id);
    if (m === undefined) byAgent.set(r.agent_id, (m = new Map()));
    m.set(r.type, {
      id: r.id,
      tenantId: r.tenant_id,
      type: r.type,
      firedAtMs: Number(r.fired_ms),
      clearSinceMs: r.clear_ms === null ? null : Number(r.clear_ms),
      data: r.data,
    });
  }
  return agents.rows.map((r) => ({
    agentId: r.pubkey,
    tenantId: r.tenant_id,
    settings: effective(r, d),
    open: byAgent.get(r.pubkey) ?? new Map(),
  }));
}

function effective(r: AgentRow, d: AlertDefaults): EffectiveSettings {
  return {
    lowBalanceThresholdAtomic: r.low_balance_threshold_atomic === null ? d.lowBalanceThresholdAtomic : BigInt(r.low_balance_threshold_atomic),
    runwayAlertHours: r.runway_alert_hours ?? d.runwayAlertHours,
    dailySpendLimitAtomic: r.daily_spend_limit_atomic === null ? d.dailySpendLimitAtomic : BigInt(r.daily_spend_limit_atomic),
    errorRateThreshold: r.error_rate_threshold ?? d.errorRateThreshold,
    errorRateMinRequests: r.error_rate_min_requests ?? d.errorRateMinRequests,
    alertsEnabled: r.alerts_enabled ?? d.alertsEnabled,
  };
}
