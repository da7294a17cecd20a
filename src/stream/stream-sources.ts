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
  /**
   * The values the event's data is made of, over the table aliased `r`: a select list whose
   * every item is text (or NULL). PostgreSQL returns them as they are stored and `data` writes
   * the JSON: building it in SQL cost PostgreSQL 11–16 µs a row in every form tried
   * (json_build_object, JSON_OBJECT, concatenation), to_char 1–3 µs more, while reading the
   * values and writing the JSON here costs the receiver about 8 µs: half the CPU in all.
   */
  readonly columns: string;
  /** The event's data as JSON text (`agent_id` first), from the row's agent and the values of `columns` in their order. */
  readonly data: (agentId: string, values: readonly (string | null)[]) => string;
  /** The table's primary key, qualified with `r`: the order of one transaction's rows. */
  readonly keyOrder: string;
  /**
   * The tenant whose keys stream the row, over the row `r` and its agent `a`: by default the
   * agent's tenant when the row is read (`a.tenant_id`).
   */
  readonly tenant?: string;
}

/** A JSON string, or null. */
function str(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : JSON.stringify(v);
}

/** An integer as a JSON string of its digits (as PostgreSQL prints it: nothing to escape), or null. */
function digits(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : `"${v}"`;
}

/** A JSON number as PostgreSQL prints an integer (its digits), or null. */
function num(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : v;
}

/** A boolean cast to text (`true` / `false`), or null. */
function bool(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : v === 'true' ? 'true' : 'false';
}

/**
 * A timestamptz as PostgreSQL prints it in UTC (`2026-01-02 03:04:05.123456+00`, the fraction
 * without its trailing zeros, or none), in the read API's form (src/read/times.ts `apiTime`):
 * `2026-01-02T03:04:05.123Z`, with microseconds only when the value has them.
 */
export function apiTimeFromUtcText(v: string): string {
  const plus = v.indexOf('+', 19);
  const end = plus < 0 ? v.length : plus;
  const fraction = v.charCodeAt(19) === 46 /* . */ ? v.slice(20, end).padEnd(6, '0') : '000000';
  const digits = fraction.endsWith('000') ? fraction.slice(0, 3) : fraction;
  return `${v.slice(0, 10)}T${v.slice(11, 19)}.${digits}Z`;
}

/** A time read as `time::text` in UTC (READ_SETTINGS sets the TimeZone), or null. */
function time(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : `"${apiTimeFromUtcText(v)}"`;
}

/** §4 `interaction`: the agent id and the §3 history row; amounts and nonces as decimal strings. */
export const INTERACTIONS: StreamSource = {
  number: 0,
  table: 'agent_interactions',
  event: 'interaction',
  columns: `r.time::text, r.vendor_id, r.nonce::text, r.amount_atomic::text, r.token_mint, r.request_url, r.request_method,
    r.success::text, r.latency_ms::text, r.error_type, r.error_message, r.signature`,
  data: (agent, v) =>
    `{"agent_id":${str(agent)},"time":${time(v[0])},"vendor_id":${str(v[1])},"nonce":${digits(v[2])},"amount_atomic":${digits(v[3])},"token_mint":${str(v[4])},` +
    `"request_url":${str(v[5])},"request_method":${str(v[6])},"success":${bool(v[7])},"latency_ms":${num(v[8])},"error_type":${str(v[9])},` +
    `"error_message":${str(v[10])},"signature":${str(v[11])}}`,
  keyOrder: 'r.time, r.agent_id, r.nonce',
};

/** §4 `telemetry`: the balances of one report. */
export const TELEMETRY: StreamSource = {
  number: 1,
  table: 'agent_telemetry',
  event: 'telemetry',
  columns: `r.time::text, r.usdc_balance_atomic::text, r.sol_balance_lamports::text, r.low_balance_warnings::text`,
  data: (agent, v) => `{"agent_id":${str(agent)},"time":${time(v[0])},"usdc_balance_atomic":${digits(v[1])},"sol_balance_lamports":${digits(v[2])},"low_balance_warnings":${num(v[3])}}`,
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
  columns: 'r.alert::text',
  data: (_agent, v) => v[0] ?? 'null',
  keyOrder: 'r.id',
  tenant: 'r.tenant_id',
};

/** The sources every stream reads. */
export const RAW_SOURCES: readonly StreamSource[] = [INTERACTIONS, TELEMETRY, ALERTS];
