/** The event names of docs/read-api.md §4 that come from stored rows. */
export type RowEventName = 'interaction' | 'telemetry' | 'alert';

/**
 * A table whose newly committed rows are stream events. The table needs `agent_id` and a
 * `stream_xid` column filled with the inserting transaction's id (the raw tables' default
 * does it while capture is on, schema 011; the alert log's always), with an index that finds
 * a range of it.
 */
/**
 * An RFC 3339 UTC time as the read API writes it (src/read/times.ts `apiTime`): milliseconds,
 * or microseconds when the value has them.
 */
function sqlApiTime(column: string): string {
  return `CASE WHEN date_part('microseconds', ${column})::bigint % 1000 = 0
    THEN to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    ELSE to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END`;
}

export interface StreamSource {
  /** Its place among the rows of one transaction: unique and never reused, it is part of every event id. */
  readonly number: number;
  readonly table: string;
  readonly event: RowEventName;
  /**
   * The event's data as JSON text, over the table aliased `r`, with `agent_id` first. Built by
   * PostgreSQL: the reader then handles one text column per row, not a dozen, and makes no
   * object per row (the stream's cost per event is what it costs ingest while many subscribe).
   */
  readonly data: string;
  /** The table's primary key, qualified with `r`: the order of one transaction's rows. */
  readonly keyOrder: string;
  /**
   * The tenant whose keys stream the row, over the row `r` and its agent `a`: by default the
   * agent's tenant when the row is read (`a.tenant_id`).
   */
  readonly tenant?: string;
}

/** §4 `interaction`: the agent id and the §3 history row; amounts and nonces as decimal strings. */
export const INTERACTIONS: StreamSource = {
  number: 0,
  table: 'agent_interactions',
  event: 'interaction',
  data: `json_build_object('agent_id', r.agent_id, 'time', ${sqlApiTime('r.time')}, 'vendor_id', r.vendor_id, 'nonce', r.nonce::text,
    'amount_atomic', r.amount_atomic::text, 'token_mint', r.token_mint, 'request_url', r.request_url, 'request_method', r.request_method,
    'success', r.success, 'latency_ms', r.latency_ms, 'error_type', r.error_type, 'error_message', r.error_message, 'signature', r.signature)`,
  keyOrder: 'r.time, r.agent_id, r.nonce',
};

/** §4 `telemetry`: the balances of one report. */
export const TELEMETRY: StreamSource = {
  number: 1,
  table: 'agent_telemetry',
  event: 'telemetry',
  data: `json_build_object('agent_id', r.agent_id, 'time', ${sqlApiTime('r.time')}, 'usdc_balance_atomic', r.usdc_balance_atomic::text,
    'sol_balance_lamports', r.sol_balance_lamports::text, 'low_balance_warnings', r.low_balance_warnings)`,
  keyOrder: 'r.time, r.agent_id',
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
  data: 'r.alert',
  keyOrder: 'r.id',
  tenant: 'r.tenant_id',
};

/** The sources every stream reads. */
export const RAW_SOURCES: readonly StreamSource[] = [INTERACTIONS, TELEMETRY, ALERTS];
