import type pg from 'pg';
import { AGENT_NOT_FOUND, ReadError } from './read-errors.js';
import { onlyKeys } from './request-body.js';
import type { AlertSettings } from '../protocol/index.js';

/** The configured defaults, used wherever an agent's own setting is NULL (docs/read-api.md §5). */
export interface AlertDefaults {
  lowBalanceThresholdAtomic: bigint;
  runwayAlertHours: number;
  dailySpendLimitAtomic: bigint;
  errorRateThreshold: number;
  errorRateMinRequests: number;
  alertsEnabled: boolean;
}

export const DEFAULT_ALERT_SETTINGS: Readonly<AlertDefaults> = Object.freeze({
  lowBalanceThresholdAtomic: 5_000_000n,
  runwayAlertHours: 24,
  dailySpendLimitAtomic: 100_000_000n,
  errorRateThreshold: 0.2,
  errorRateMinRequests: 20,
  alertsEnabled: true,
});

export const SETTING_FIELDS = [
  'low_balance_threshold_atomic',
  'runway_alert_hours',
  'daily_spend_limit_atomic',
  'error_rate_threshold',
  'error_rate_min_requests',
  'alerts_enabled',
] as const;
type SettingField = (typeof SETTING_FIELDS)[number];

interface SettingsRow {
  low_balance_threshold_atomic: string | null;
  runway_alert_hours: number | null;
  daily_spend_limit_atomic: string | null;
  error_rate_threshold: number | null;
  error_rate_min_requests: number | null;
  alerts_enabled: boolean | null;
}

const COLUMNS = `low_balance_threshold_atomic::text AS low_balance_threshold_atomic, runway_alert_hours,
  daily_spend_limit_atomic::text AS daily_spend_limit_atomic, error_rate_threshold, error_rate_min_requests, alerts_enabled`;

const INT64_MAX = 2n ** 63n - 1n;

/**
 * One field of a PUT body → the value to store (null: back to the default), or a 400
 * naming the field. Amounts are decimal strings (JSON integers up to 2^53 are taken too).
 */
function parseField(field: SettingField, v: unknown): string | number | boolean | null | ReadError {
  if (v === null) return null;
  const bad = (rule: string): ReadError => new ReadError('invalid_settings', `'${field}' must be ${rule}.`);
  switch (field) {
    case 'low_balance_threshold_atomic':
    case 'daily_spend_limit_atomic': {
      const text = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
      if (typeof text !== 'string' || !/^\d{1,19}$/.test(text) || BigInt(text) > INT64_MAX) return bad('a decimal string of an integer from 0 to 2^63-1');
      return BigInt(text).toString();
    }
    case 'runway_alert_hours':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 87_600 ? v : bad('a number of hours from 0 to 87600');
    case 'error_rate_threshold':
      return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 1 ? v : bad('a number greater than 0 and at most 1');
    case 'error_rate_min_requests':
      return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1_000_000 ? v : bad('an integer from 1 to 1000000');
    case 'alerts_enabled':
      return typeof v === 'boolean' ? v : bad('true or false');
  }
}

/** Validates a PUT body completely before anything is written. */
export function parseSettingsUpdate(body: Record<string, unknown>): Map<SettingField, string | number | boolean | null> | ReadError {
  const unknown = onlyKeys(body, SETTING_FIELDS, 'invalid_settings');
  if (unknown !== null) return unknown;
  const out = new Map<SettingField, string | number | boolean | null>();
  for (const field of SETTING_FIELDS) {
    if (!(field in body)) continue;
    const v = parseField(field, body[field]);
    if (v instanceof ReadError) return v;
    out.set(field, v);
  }
  return out;
}

/** GET /v1/agent/settings (the caller has checked access). */
export async function readSettings(pool: pg.Pool, agentId: string, d: AlertDefaults): Promise<AlertSettings | ReadError> {
  const { rows } = await pool.query<SettingsRow>(`SELECT ${COLUMNS} FROM agents WHERE pubkey = $1`, [agentId]);
  const row = rows[0];
  return row === undefined ? defaultsOnly(agentId, d) : present(agentId, row, d);
}

/** PUT /v1/agent/settings: only an agent linked to the key's tenant. */
export async function writeSettings(
  pool: pg.Pool,
  tenantId: string,
  agentId: string,
  update: Map<SettingField, string | number | boolean | null>,
  d: AlertDefaults,
): Promise<AlertSettings | ReadError> {
  const sets: string[] = [];
  const params: unknown[] = [agentId, tenantId];
  for (const [field, value] of update) {
    params.push(value);
    sets.push(`${field} = $${params.length}`);
  }
  // With nothing to change, the row is still read through the same tenant check.
  const { rows } = await pool.query<SettingsRow>(
    sets.length === 0
      ? `SELECT ${COLUMNS} FROM agents WHERE pubkey = $1 AND tenant_id = $2`
      : `UPDATE agents SET ${sets.join(', ')} WHERE pubkey = $1 AND tenant_id = $2 RETURNING ${COLUMNS}`,
    params,
  );
  const row = rows[0];
  return row === undefined ? AGENT_NOT_FOUND : present(agentId, row, d);
}

function present(agentId: string, r: SettingsRow, d: AlertDefaults): AlertSettings {
  const defaults = SETTING_FIELDS.filter((f) => r[f] === null);
  return {
    agent_id: agentId,
    low_balance_threshold_atomic: r.low_balance_threshold_atomic ?? d.lowBalanceThresholdAtomic.toString(),
    runway_alert_hours: r.runway_alert_hours ?? d.runwayAlertHours,
    daily_spend_limit_atomic: r.daily_spend_limit_atomic ?? d.dailySpendLimitAtomic.toString(),
    error_rate_threshold: r.error_rate_threshold ?? d.errorRateThreshold,
    error_rate_min_requests: r.error_rate_min_requests ?? d.errorRateMinRequests,
    alerts_enabled: r.alerts_enabled ?? d.alertsEnabled,
    defaults,
  };
}

function defaultsOnly(agentId: string, d: AlertDefaults): AlertSettings {
  return present(
    agentId,
    {
      low_balance_threshold_atomic: null,
      runway_alert_hours: null,
      daily_spend_limit_atomic: null,
      error_rate_threshold: null,
      error_rate_min_requests: null,
      alerts_enabled: null,
    },
    d,
  );
}
