/**
 * `com.machpay.agent.telemetry.v1` → one `agent_telemetry` row (docs/protocol.md §5).
 *
 * The `interactions` map is never stored as sent: a clean JSON document is rebuilt from
 * the validated fields only, written as text (so `__proto__` or `constructor` keys are just
 * strings, never property assignments), with int64 `spend_atomic` emitted as a JSON number
 * from its exact decimal form (jsonb numeric keeps every digit). The totals are exact sums
 * of the same validated values.
 */
import type { CopyTextWriter } from '../copy-text-writer.js';
import { INT32_MAX, Int64Sum, parseNonNegativeInt64 } from '../int64.js';
import { fitsVarchar, isStorableText } from '../pg-text.js';
import { MAX_UTC_SECONDS } from '../utc-calendar.js';
import { int64, int64Problem, intProblem, optionalInt, optionalText, requiredText } from './column-fields.js';
import type { Envelope } from './envelope.js';
import { isPlainObject, type PlainObject } from './plain-object.js';
import { eventTimeProblem, type EventTimeWindow } from './time-window.js';

/** Limits on one report's `interactions`, so one event cannot carry an unbounded document. */
export const MAX_VENDORS_PER_REPORT = 1000;
export const MAX_ERROR_TYPES_PER_VENDOR = 100;
export const MAX_VENDOR_ID_LENGTH = 64;
export const MAX_ERROR_TYPE_LENGTH = 64;

/** The INT counters of a vendor's entry, in the order they are written. */
const COUNTERS = ['attempts', 'success', 'failures', 'payment_latency_p50', 'payment_latency_p99'] as const;
/** `"name":` prefixes, built once. */
const COUNTER_KEYS = COUNTERS.map((c) => `"${c}":`);

/** Stands in for an absent wallet: every field absent. */
const EMPTY: PlainObject = Object.freeze(Object.create(null) as PlainObject);

function unixSecondsProblem(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return `${name}: required`;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_UTC_SECONDS) {
    return `${name}: must be Unix seconds, an integer from 0 to ${MAX_UTC_SECONDS}`;
  }
  return null;
}

export function encodeTelemetry(env: Envelope, w: CopyTextWriter, json: CopyTextWriter, window?: EventTimeWindow): string | null {
  const d = env.data;
  const start = d.period_start;
  const end = d.period_end;
  const timeProblem = unixSecondsProblem(start, 'data.period_start') ?? unixSecondsProblem(end, 'data.period_end');
  if (timeProblem !== null) return timeProblem;
  if (window !== undefined) {
    const outside = eventTimeProblem(window, end as number, 0, 'data.period_end');
    if (outside !== null) return outside;
  }
  const periodSeconds = (end as number) - (start as number);
  if (periodSeconds < 0) return 'data.period_start: must not be after data.period_end';
  if (periodSeconds > INT32_MAX) return `data.period_end: the period must be at most ${INT32_MAX} seconds long`;

  // The document and the totals first (into `json`), since total_* come before it in the row.
  const totals = { requests: 0, payments: 0, spend: new Int64Sum() };
  let hasInteractions = false;
  if (d.interactions !== undefined && d.interactions !== null) {
    const problem = buildInteractions(d.interactions, json, totals);
    if (problem !== null) return problem;
    hasInteractions = true;
  }
  const totalSpend = totals.spend.value();
  if (totalSpend === null) return 'data.interactions: the sum of spend_atomic does not fit int64';

  const wallet = d.wallet;
  if (wallet !== undefined && wallet !== null && !isPlainObject(wallet)) return 'data.wallet: must be an object';
  const walletFields: PlainObject = (wallet as PlainObject | null | undefined) ?? EMPTY;

  w.timestampField(end as number, 0);
  const problem =
    requiredText(w, d.agent_id, 64, 'data.agent_id') ??
    int64(w, walletFields.sol_balance_lamports, false, true, 'data.wallet.sol_balance_lamports') ??
    int64(w, walletFields.usdc_balance_atomic, false, true, 'data.wallet.usdc_balance_atomic') ??
    // DEFAULT 0 in the DDL: an absent count is written as the default, as an INSERT omitting it would store.
    optionalInt(w, walletFields.low_balance_warnings, 0, INT32_MAX, 0, 'data.wallet.low_balance_warnings');
  if (problem !== null) return problem;
  w.intField(periodSeconds);
  w.intField(totals.requests);
  w.intField(totals.payments);
  w.int64Field(totalSpend);
  if (hasInteractions) w.copiedField(json);
  else w.nullField();
  return optionalText(w, d.sdk_version, 32, 'data.sdk_version');
}

interface Totals {
  requests: number;
  payments: number;
  spend: Int64Sum;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= INT32_MAX;
}

/**
 * Validates `value` as the interactions map and writes its clean JSON text, already
 * escaped for COPY, into `json`; sums into `totals`.
 */
function buildInteractions(value: unknown, json: CopyTextWriter, totals: Totals): string | null {
  if (!isPlainObject(value)) return 'data.interactions: must be an object';
  const vendors = Object.keys(value);
  if (vendors.length > MAX_VENDORS_PER_REPORT) return `data.interactions: at most ${MAX_VENDORS_PER_REPORT} vendors per report`;
  json.reset();
  json.appendAscii('{');
  for (let i = 0; i < vendors.length; i++) {
    const vendor = vendors[i] as string;
    if (vendor.length === 0 || !fitsVarchar(vendor, MAX_VENDOR_ID_LENGTH) || !isStorableText(vendor)) {
      return `data.interactions: vendor ids must be 1 to ${MAX_VENDOR_ID_LENGTH} characters without NUL characters or unpaired surrogates`;
    }
    const stats = value[vendor];
    // JSON.stringify escapes quotes and control characters; appendEscaped then doubles its backslashes for COPY.
    const quoted = JSON.stringify(vendor);
    if (!isPlainObject(stats)) return `data.interactions[${quoted}]: must be an object`;
    if (i > 0) json.appendAscii(',');
    json.appendEscaped(quoted);
    json.appendAscii(':{');
    let first = true;
    for (let c = 0; c < COUNTERS.length; c++) {
      const name = COUNTERS[c] as (typeof COUNTERS)[number];
      const v = stats[name];
      if (v === undefined || v === null) continue;
      // The message (and its string building) only on failure.
      if (!isCount(v)) return intProblem(v, 0, INT32_MAX, `data.interactions[${quoted}].${name}`);
      if (!first) json.appendAscii(',');
      first = false;
      json.appendAscii(COUNTER_KEYS[c] as string);
      json.appendInt(v);
      if (c === 0) totals.requests += v;
      else if (c === 1) totals.payments += v;
    }
    if (totals.requests > INT32_MAX) return `data.interactions: the sum of attempts must be at most ${INT32_MAX}`;
    if (totals.payments > INT32_MAX) return `data.interactions: the sum of success must be at most ${INT32_MAX}`;
    const spent = stats.spend_atomic;
    if (spent !== undefined && spent !== null) {
      const parsed = parseNonNegativeInt64(spent);
      if (parsed === null) return int64Problem(true, `data.interactions[${quoted}].spend_atomic`);
      totals.spend.add(parsed);
      if (!first) json.appendAscii(',');
      first = false;
      json.appendAscii('"spend_atomic":');
      json.appendInt64(parsed);
    }
    const errors = stats.errors;
    if (errors !== undefined && errors !== null) {
      const problem = appendErrors(errors, json, quoted, first);
      if (problem !== null) return problem;
    }
    json.appendAscii('}');
  }
  json.appendAscii('}');
  return null;
}

function appendErrors(errors: unknown, json: CopyTextWriter, quotedVendor: string, first: boolean): string | null {
  if (!isPlainObject(errors)) return `data.interactions[${quotedVendor}].errors: must be an object`;
  const types = Object.keys(errors);
  if (types.length > MAX_ERROR_TYPES_PER_VENDOR) {
    return `data.interactions[${quotedVendor}].errors: at most ${MAX_ERROR_TYPES_PER_VENDOR} error types`;
  }
  json.appendAscii(first ? '"errors":{' : ',"errors":{');
  for (let i = 0; i < types.length; i++) {
    const type = types[i] as string;
    if (type.length === 0 || !fitsVarchar(type, MAX_ERROR_TYPE_LENGTH) || !isStorableText(type)) {
      return `data.interactions[${quotedVendor}].errors: error types must be 1 to ${MAX_ERROR_TYPE_LENGTH} characters without NUL characters or unpaired surrogates`;
    }
    const count = errors[type];
    const quoted = JSON.stringify(type);
    if (!isCount(count)) return intProblem(count, 0, INT32_MAX, `data.interactions[${quotedVendor}].errors[${quoted}]`);
    if (i > 0) json.appendAscii(',');
    json.appendEscaped(quoted);
    json.appendAscii(':');
    json.appendInt(count);
  }
  json.appendAscii('}');
  return null;
}
