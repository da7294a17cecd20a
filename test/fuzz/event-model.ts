/**
 * Valid events of the three §5 types, each with a run-unique natural key, and the table
 * of their fields: where each lives, which hostile values it gets (field-mutants.ts), its
 * column (for exact-storage checks) and whether it is part of the row's key.
 */
import { INT32_MAX, boolMutants, memo, int64Mutants, intMutants, textMutants, unitIntervalMutants, type Mutant } from './field-mutants.js';
import type { EndpointName, RowKey, Table } from './fuzz-case.js';
import { obj, type HostileObject } from './hostile-value.js';

export const EVENT_TYPES = {
  interaction: 'com.machpay.agent.interaction.v1',
  telemetry: 'com.machpay.agent.telemetry.v1',
  gateway: 'com.machpay.gateway.request.v1',
} as const;
export type EventKind = keyof typeof EVENT_TYPES;

/** Nonces and period ends come from disjoint, run-unique ranges: far from every edge value a mutant uses. */
export const NONCE_BASE = 1_000_000_000_000_000;
/** Events per case with their own key; bigger batches reuse keys (stored once, as duplicates). */
export const KEYS_PER_CASE = 2048;

/**
 * A telemetry key is (agent, period_end), and period_end must lie inside the receiver's
 * event-time window (docs/protocol.md §2), so period ends are packed into a fixed span of
 * the past: case `i` gets PERIOD_KEYS_PER_CASE consecutive seconds from
 * PERIOD_END_BASE + (i mod PERIOD_CASES) * PERIOD_KEYS_PER_CASE. A batch holds at most 1001
 * events, so every event of a case has its own period end. Curated cases (indices from
 * 10^6) reuse the spans of small indices under agents of their own; a run of more than
 * PERIOD_CASES cases would give two of its cases the same keys, so the suite refuses it.
 * The span is 2019-01-01 .. 2025-06-28: inside the fuzz receiver's window (3650 days back)
 * until the end of 2028 (fuzz.test.ts checks it before sending anything).
 */
export const PERIOD_END_BASE = Date.UTC(2019, 0, 1) / 1000;
export const PERIOD_KEYS_PER_CASE = 1024;
export const PERIOD_CASES = 200_000;
/** The first and last period_end any case can carry (seconds). */
export const PERIOD_END_RANGE: readonly [number, number] = [PERIOD_END_BASE, PERIOD_END_BASE + PERIOD_CASES * PERIOD_KEYS_PER_CASE - 1];

export function periodEndOf(caseIndex: number, k: number): number {
  return PERIOD_END_BASE + (caseIndex % PERIOD_CASES) * PERIOD_KEYS_PER_CASE + (k % PERIOD_KEYS_PER_CASE);
}

/** The case index (below PERIOD_CASES) whose events carry this period_end, or null outside the range. */
export function caseOfPeriodEnd(periodEnd: number): number | null {
  if (!Number.isSafeInteger(periodEnd) || periodEnd < PERIOD_END_RANGE[0] || periodEnd > PERIOD_END_RANGE[1]) return null;
  return Math.floor((periodEnd - PERIOD_END_BASE) / PERIOD_KEYS_PER_CASE);
}

/** Who is sending a case and how its keys are made unique. */
export interface CaseIdentity {
  endpoint: EndpointName;
  /** The signing agent (agent endpoint) or '' (ingest). */
  agentId: string;
  /** A real agent that did not sign: its id in data.agent_id is a mismatch. */
  otherAgentId: string;
  /**
   * 'edge': this agent's cases may use edge nonces (0, ±2^63…) that many cases share;
   * 'pool': only counter nonces, so a wrongly stored invalid nonce cannot hide behind a valid one.
   */
  role: 'pool' | 'edge';
  caseIndex: number;
  /** Short text unique to the run (its seed). */
  runTag: string;
}

export interface ValidEvent {
  kind: EventKind;
  event: HostileObject;
  id: string;
  row: RowKey;
  /** How to rebuild the key when a key field is changed to `stored`. */
  rekey?: (field: string, stored: string) => string | null;
}

/** Unique text for this case and event: short (≤ 8 chars) so it fits every VARCHAR prefix. */
export function uniqueTag(ident: CaseIdentity, k: number): string {
  return `${(ident.caseIndex * KEYS_PER_CASE + k).toString(36)}`.padStart(5, '0').slice(-8);
}

/**
 * Event times are fixed (not the clock) so that a case's bytes are rebuilt exactly from
 * (seed, index); only the §3 signature headers are made at send time.
 */
const TIME_BASE_MS = Date.UTC(2024, 0, 1);

/** Within about 12 days of TIME_BASE_MS whatever the case index (probes and curated cases use 10^9 and up), so inside the fuzz receiver's event-time window. */
function eventTime(ident: CaseIdentity, k: number): string {
  return new Date(TIME_BASE_MS + (ident.caseIndex % 1_000_000) * 1000 + (k % 1000)).toISOString();
}

export function buildValidEvent(kind: EventKind, ident: CaseIdentity, k: number): ValidEvent {
  const slot = ident.caseIndex * KEYS_PER_CASE + (k % KEYS_PER_CASE);
  const id = `${ident.runTag}-${ident.caseIndex}-${k}`;
  const source =
    kind === 'gateway' ? `https://gw.fuzz.test/${ident.runTag}/${ident.caseIndex}` : `/agents/${ident.agentId === '' ? 'none' : ident.agentId}`;
  const envelope = (data: HostileObject): HostileObject =>
    obj([
      ['specversion', '1.0'],
      ['id', id],
      ['source', source],
      ['type', EVENT_TYPES[kind]],
      ['time', eventTime(ident, k)],
      ['data', data],
    ]);
  if (kind === 'interaction') {
    const nonce = NONCE_BASE + slot;
    return {
      kind,
      id,
      event: envelope(
        obj([
          ['agent_id', ident.agentId],
          ['vendor_id', 'vendor-fuzz'],
          ['nonce', nonce],
          ['success', true],
          ['latency_ms', 42],
          ['amount_atomic', 1000],
          ['token_mint', '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU'],
          ['request_url', 'https://api.weather.example/v1/forecast?city=Lisbon'],
          ['request_method', 'GET'],
        ]),
      ),
      row: { table: 'agent_interactions', key: `${ident.agentId}|${nonce}` },
      rekey: (field, stored) => (field === 'nonce' ? `${ident.agentId}|${stored}` : null),
    };
  }
  if (kind === 'telemetry') {
    const periodEnd = periodEndOf(ident.caseIndex, k);
    return {
      kind,
      id,
      event: envelope(
        obj([
          ['agent_id', ident.agentId],
          ['period_start', periodEnd - 60],
          ['period_end', periodEnd],
          ['wallet', obj([['sol_balance_lamports', 1_500_000_000], ['usdc_balance_atomic', 25_000_000], ['low_balance_warnings', 0]])],
          [
            'interactions',
            obj([
              [
                'vendor-weather',
                obj([
                  ['attempts', 12],
                  ['success', 11],
                  ['failures', 1],
                  ['payment_latency_p50', 180],
                  ['payment_latency_p99', 950],
                  ['spend_atomic', 11_000],
                  ['errors', obj([['timeout', 1]])],
                ]),
              ],
            ]),
          ],
          ['sdk_version', 'machpay-fuzz/1.0'],
        ]),
      ),
      row: { table: 'agent_telemetry', key: `${ident.agentId}|${periodEnd}` },
    };
  }
  return {
    kind,
    id,
    event: envelope(
      obj([
        ['gateway_id', 'gw-fuzz'],
        ['vendor_id', 'vendor-fuzz'],
        ['route', '/v1/forecast'],
        ['method', 'GET'],
        ['status_code', 200],
        ['latency_ms', 35],
        ['amount_atomic', 1000],
        ['payment_verified', true],
        ['risk_score', 0.05],
      ]),
    ),
    row: { table: 'gateway_telemetry', key: `${source}|${id}` },
    rekey: (field, stored) => (field === 'id' ? `${source}|${stored}` : field === 'source' ? `${stored}|${id}` : null),
  };
}

/** A field of an event type: its path from the event, its mutants, its column, and whether it is in the key. */
export interface FieldSpec {
  path: readonly string[];
  /** Text a §5 message must contain when this field is the invalid one. */
  name: string;
  /** Cached lists: apply `personalise` (field-mutants.ts) to the one picked. */
  mutants: () => Mutant[];
  column?: string;
  key?: boolean;
}

const text = (max: number | null, required: boolean) => () => textMutants(max, required);

const INTERACTION_FIELDS: FieldSpec[] = [
  { path: ['data', 'vendor_id'], name: 'vendor_id', mutants: text(64, true), column: 'vendor_id' },
  { path: ['data', 'nonce'], name: 'nonce', mutants: () => int64Mutants(true, 'accept'), column: 'nonce', key: true },
  { path: ['data', 'success'], name: 'success', mutants: () => boolMutants(true), column: 'success' },
  { path: ['data', 'latency_ms'], name: 'latency_ms', mutants: () => intMutants(0, INT32_MAX, true), column: 'latency_ms' },
  { path: ['data', 'amount_atomic'], name: 'amount_atomic', mutants: () => int64Mutants(false, 'reject'), column: 'amount_atomic' },
  { path: ['data', 'token_mint'], name: 'token_mint', mutants: text(64, false), column: 'token_mint' },
  { path: ['data', 'request_url'], name: 'request_url', mutants: text(512, false), column: 'request_url' },
  { path: ['data', 'request_method'], name: 'request_method', mutants: text(16, false), column: 'request_method' },
  { path: ['data', 'error_type'], name: 'error_type', mutants: text(64, false), column: 'error_type' },
  { path: ['data', 'error_message'], name: 'error_message', mutants: text(null, false), column: 'error_message' },
  { path: ['data', 'signature'], name: 'signature', mutants: text(128, false), column: 'signature' },
];

const TELEMETRY_FIELDS: FieldSpec[] = [
  {
    path: ['data', 'period_start'],
    name: 'period_start',
    // period_start > period_end, negative, or beyond year 9999: §5 does not say.
    mutants: memo(() => intMutants(0, PERIOD_END_BASE, true, 'either').filter((m) => m.name !== 'max' && m.name !== 'mid' && !m.name.startsWith('max+'))),
  },
  {
    path: ['data', 'period_end'],
    name: 'period_end',
    // Every number these mutants carry (0, year 5000, year 9999, -1…) lies outside the §2
    // event-time window, so each one is refused, naming period_end.
    mutants: memo(() =>
      intMutants(0, 253402300799, true)
        .filter((m) => !m.name.startsWith('max+'))
        .map(({ stored: _stored, ...m }): Mutant => ({ ...m, verdict: 'reject' })),
    ),
    key: true,
  },
  {
    path: ['data', 'wallet', 'sol_balance_lamports'],
    name: 'sol_balance_lamports',
    mutants: () => int64Mutants(false, 'either'),
    column: 'sol_balance_lamports',
  },
  {
    path: ['data', 'wallet', 'usdc_balance_atomic'],
    name: 'usdc_balance_atomic',
    mutants: () => int64Mutants(false, 'either'),
    column: 'usdc_balance_atomic',
  },
  {
    path: ['data', 'wallet', 'low_balance_warnings'],
    name: 'low_balance_warnings',
    mutants: memo(() => intMutants(0, INT32_MAX, false, 'either').filter((m) => m.name !== 'missing' && m.name !== 'null')),
  },
  {
    path: ['data', 'interactions', 'vendor-weather', 'attempts'],
    name: 'attempts',
    // A counter inside the interactions document: only its type is §5's business; its size
    // matters only through the INT total it is summed into.
    mutants: memo(() =>
      intMutants(0, INT32_MAX, false, 'either')
        .filter((m) => m.verdict !== 'accept' || m.name === 'min')
        .map((m) => (m.name.startsWith('max+') ? { ...m, verdict: 'either' as const } : m)),
    ),
  },
  {
    path: ['data', 'interactions', 'vendor-weather', 'spend_atomic'],
    name: 'spend_atomic',
    // Summed into total_spend_atomic: int64 max plus the other vendors' spend overflows it.
    mutants: memo(() => int64Mutants(false, 'either').filter((m) => !m.name.startsWith('int64-max'))),
  },
  { path: ['data', 'sdk_version'], name: 'sdk_version', mutants: text(32, false), column: 'sdk_version' },
];

const GATEWAY_FIELDS: FieldSpec[] = [
  { path: ['data', 'gateway_id'], name: 'gateway_id', mutants: text(64, true), column: 'gateway_id' },
  { path: ['data', 'vendor_id'], name: 'vendor_id', mutants: text(64, true), column: 'vendor_id' },
  { path: ['data', 'route'], name: 'route', mutants: text(512, true), column: 'route' },
  { path: ['data', 'method'], name: 'method', mutants: text(16, true), column: 'method' },
  { path: ['data', 'status_code'], name: 'status_code', mutants: () => intMutants(100, 599, true), column: 'status_code' },
  { path: ['data', 'latency_ms'], name: 'latency_ms', mutants: () => intMutants(0, INT32_MAX, true), column: 'latency_ms' },
  { path: ['data', 'agent_id'], name: 'agent_id', mutants: text(64, false), column: 'agent_id' },
  { path: ['data', 'amount_atomic'], name: 'amount_atomic', mutants: () => int64Mutants(false, 'reject'), column: 'amount_atomic' },
  { path: ['data', 'payment_verified'], name: 'payment_verified', mutants: () => boolMutants(false), column: 'payment_verified' },
  { path: ['data', 'risk_score'], name: 'risk_score', mutants: () => unitIntervalMutants() },
  { path: ['data', 'error_code'], name: 'error_code', mutants: text(64, false), column: 'error_code' },
];

export const FIELDS: Record<EventKind, FieldSpec[]> = {
  interaction: INTERACTION_FIELDS,
  telemetry: TELEMETRY_FIELDS,
  gateway: GATEWAY_FIELDS,
};

export const TABLE_OF: Record<EventKind, Table> = {
  interaction: 'agent_interactions',
  telemetry: 'agent_telemetry',
  gateway: 'gateway_telemetry',
};

export function kindsFor(endpoint: EndpointName): EventKind[] {
  return endpoint === 'agent' ? ['interaction', 'telemetry'] : ['gateway'];
}
