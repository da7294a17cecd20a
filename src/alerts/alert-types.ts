/**
 * The five alert types of docs/read-api.md §5 and the severity each is raised with.
 *
 * Severity is fixed per type, so an open alert never changes it while it fires:
 * - spend_limit, high_error_rate: `critical`. Money is being spent past the budget the
 *   owner set, or the agent is failing against its vendors now; both need action at once.
 * - low_balance, runway: `warning`. The agent still works; it needs funds soon.
 * - stale_telemetry: `warning`. A silent agent may have crashed, or may just have been
 *   stopped: worth a look, not proof of a fault.
 * `info` is part of the contract's scale and left for types that only inform.
 */
export const ALERT_TYPES = ['low_balance', 'runway', 'spend_limit', 'high_error_rate', 'stale_telemetry'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export type Severity = 'info' | 'warning' | 'critical';
export type AlertState = 'firing' | 'resolved';

export const SEVERITY: Readonly<Record<AlertType, Severity>> = Object.freeze({
  low_balance: 'warning',
  runway: 'warning',
  spend_limit: 'critical',
  high_error_rate: 'critical',
  stale_telemetry: 'warning',
});

/** An alert as the API, the stream and the webhooks show it (docs/read-api.md §5). */
export interface Alert {
  id: string;
  agent_id: string;
  type: AlertType;
  severity: Severity;
  state: AlertState;
  message: string;
  data: Record<string, unknown>;
  fired_at: string;
  resolved_at: string | null;
  acknowledged_at: string | null;
}

/** Why an open alert was resolved; `recovered` is the type's own condition of §5. */
export type ResolutionReason = 'recovered' | 'day_ended' | 'alerts_disabled' | 'agent_unlinked';
