import { apiTime, utcMicros } from './read-side.js';

/** The event names of docs/read-api.md §4 that come from stored rows. */
export type RowEventName = 'interaction' | 'telemetry' | 'alert';

/**
 * A table whose newly committed rows are stream events. The table needs `agent_id` and a
 * `stream_xid` column filled with the inserting transaction's id (the raw tables' default
 * does it while capture is on, schema 011; the alert log's always), with an index that finds
 * a range of it.
 */
export interface StreamSource {
  /** Its place among the rows of one transaction: unique and never reused, it is part of every event id. */
  readonly number: number;
  readonly table: string;
  readonly event: RowEventName;
  /** The select list over the table aliased `r`; it must include `r.agent_id`. */
  readonly columns: string;
  /** The table's primary key, qualified with `r`: the order of one transaction's rows. */
  readonly keyOrder: string;
  /**
   * The tenant whose keys stream the row, over the row `r` and its agent `a`: by default the
   * agent's tenant when the row is read (`a.tenant_id`).
   */
  readonly tenant?: string;
  /** The event's data, without `agent_id` (added by the stream), from one selected row. */
  payload(row: Record<string, unknown>): Record<string, unknown>;
}

/** §4 `interaction`: the agent id and the §3 history row; amounts and nonces as decimal strings. */
export const INTERACTIONS: StreamSource = {
  number: 0,
  table: 'agent_interactions',
  event: 'interaction',
  columns: `r.agent_id, ${utcMicros('r.time')} AS t, r.vendor_id, r.nonce::text AS nonce, r.amount_atomic::text AS amount_atomic,
            r.token_mint, r.request_url, r.request_method, r.success, r.latency_ms, r.error_type, r.error_message, r.signature`,
  keyOrder: 'r.time, r.agent_id, r.nonce',
  payload: (r) => ({
    time: apiTime(r.t as string),
    vendor_id: r.vendor_id,
    nonce: r.nonce,
    amount_atomic: r.amount_atomic,
    token_mint: r.token_mint,
    request_url: r.request_url,
    request_method: r.request_method,
    success: r.success,
    latency_ms: r.latency_ms,
    error_type: r.error_type,
    error_message: r.error_message,
    signature: r.signature,
  }),
};

/** §4 `telemetry`: the balances of one report. */
export const TELEMETRY: StreamSource = {
  number: 1,
  table: 'agent_telemetry',
  event: 'telemetry',
  columns: `r.agent_id, ${utcMicros('r.time')} AS t, r.usdc_balance_atomic::text AS usdc, r.sol_balance_lamports::text AS sol,
            r.low_balance_warnings`,
  keyOrder: 'r.time, r.agent_id',
  payload: (r) => ({
    time: apiTime(r.t as string),
    usdc_balance_atomic: r.usdc,
    sol_balance_lamports: r.sol,
    low_balance_warnings: r.low_balance_warnings,
  }),
};

/**
 * §4 `alert`: every change of an alert (fired, resolved, acknowledged), from the alert log
 * agent_alert_changes that each change appends to in its own transaction. The data is the §5
 * alert object as that change left it; only the keys of the tenant it fired for stream it.
 */
export const ALERTS: StreamSource = {
  number: 2,
  table: 'agent_alert_changes',
  event: 'alert',
  columns: 'r.agent_id, r.alert',
  keyOrder: 'r.id',
  tenant: 'r.tenant_id',
  payload: (r) => r.alert as Record<string, unknown>,
};

/** The sources every stream reads. */
export const RAW_SOURCES: readonly StreamSource[] = [INTERACTIONS, TELEMETRY, ALERTS];
