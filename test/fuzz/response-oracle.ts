/**
 * docs/protocol.md §6 as a checker: the status ↔ code table, the two body shapes, Retry-After
 * on 429/503, and the per-event verdicts of a case. Returns problems as text (empty: the
 * response is within the protocol) and the fate of each event, for the row ledger.
 */
import type { ExchangeResult, ParsedResponse } from './http-client.js';
import { header } from './http-client.js';
import type { EventErrorCode, EventExpectation, HttpCase, Outcome } from './fuzz-case.js';

export const STATUS_OF_CODE: Record<Exclude<Outcome, 'accepted'>, number> = {
  invalid_body: 400,
  no_valid_events: 400,
  missing_signature: 401,
  bad_signature: 401,
  timestamp_out_of_window: 401,
  invalid_api_key: 401,
  body_too_large: 413,
  too_many_events: 413,
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  rate_limited: 429,
  overloaded: 429,
  not_ready: 503,
  // Within §6, but never expected here: a row PostgreSQL refuses is one validation let through.
  not_storable: 422,
  // Outside the §6 table (README): wrong path or method. Allowed only where a case says so.
  not_found: 404,
  method_not_allowed: 405,
};

const EVENT_CODES: readonly EventErrorCode[] = ['invalid_event', 'unknown_type', 'agent_mismatch'];
/** Always within the protocol: the receiver may be at capacity at any moment. */
const ALWAYS_ALLOWED: readonly Outcome[] = ['rate_limited', 'overloaded'];
/**
 * 503 not_ready only while PostgreSQL is really unavailable (postgres-watch.ts): the spool
 * takes writes then, so even that is rare; any other 503 is a receiver bug.
 */
export function judge503(postgresWasDown: boolean, problems: string[], what: string): void {
  if (!postgresWasDown) problems.push(`${what}: 503 while PostgreSQL was available`);
}

/** What became of each event of a request, as far as the response tells. */
export type EventFate = 'accepted' | 'rejected' | 'unknown';

export interface Verdict {
  /** The §6 outcome, or what happened instead ('closed', 'timeout', 'malformed', 'status-NNN'). */
  outcome: string;
  problems: string[];
  fates: EventFate[];
}

function isPlainJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  const k = Object.keys(o);
  return k.length === keys.length && keys.every((x) => Object.hasOwn(o, x));
}

/** §6 shape and status↔code checks for any response of the ingest endpoints. */
export function checkShape(r: ParsedResponse, problems: string[]): { outcome: string; body: Record<string, unknown> | null } {
  if (r.status >= 500 && r.status !== 503) problems.push(`${r.status}: a 5xx other than 503`);
  const ct = header(r, 'content-type') ?? '';
  let body: unknown;
  try {
    body = JSON.parse(r.body.toString('utf8'));
  } catch {
    problems.push(`${r.status} with a body that is not JSON: ${JSON.stringify(r.body.subarray(0, 200).toString('utf8'))}`);
    return { outcome: `status-${r.status}`, body: null };
  }
  if (!/^application\/json\b/i.test(ct)) problems.push(`${r.status} with Content-Type ${JSON.stringify(ct)}`);
  if (!isPlainJsonObject(body)) {
    problems.push(`${r.status} body is not a JSON object`);
    return { outcome: `status-${r.status}`, body: null };
  }
  if (r.status === 202) {
    if (!sameKeys(body, ['accepted', 'rejected'])) problems.push(`202 body keys ${JSON.stringify(Object.keys(body))}, want accepted and rejected`);
    if (!Number.isInteger(body.accepted) || (body.accepted as number) < 1) problems.push(`202 with accepted=${JSON.stringify(body.accepted)} (must be ≥ 1)`);
    if (!Array.isArray(body.rejected)) problems.push('202 without a rejected array');
    return { outcome: 'accepted', body };
  }
  const error = body.error;
  if (!isPlainJsonObject(error) || !sameKeys(error, ['code', 'message']) || typeof error.code !== 'string' || typeof error.message !== 'string' || error.message === '') {
    problems.push(`${r.status} error body is not {"error":{"code","message"}}: ${JSON.stringify(body).slice(0, 300)}`);
    return { outcome: `status-${r.status}`, body };
  }
  const code = error.code as Exclude<Outcome, 'accepted'>;
  const want = STATUS_OF_CODE[code];
  if (want === undefined) problems.push(`unknown error code ${JSON.stringify(code)} with ${r.status}`);
  else if (want !== r.status) problems.push(`code ${code} with status ${r.status}; §6 says ${want}`);
  const expectedKeys = code === 'no_valid_events' ? ['error', 'rejected'] : ['error'];
  if (!sameKeys(body, expectedKeys)) problems.push(`${code} body keys ${JSON.stringify(Object.keys(body))}, want ${JSON.stringify(expectedKeys)}`);
  if (r.status === 429 || r.status === 503) {
    const ra = header(r, 'retry-after');
    if (ra === undefined || !/^\d+$/.test(ra)) problems.push(`${r.status} ${code} without a Retry-After in seconds (got ${JSON.stringify(ra)})`);
  }
  return { outcome: code, body };
}

/** Checks the `rejected` list against what was sent; returns each event's fate. */
function checkEvents(outcome: string, body: Record<string, unknown>, events: readonly EventExpectation[], problems: string[]): EventFate[] {
  const rejected = Array.isArray(body.rejected) ? (body.rejected as unknown[]) : [];
  const accepted = outcome === 'accepted' ? (body.accepted as number) : 0;
  if (accepted + rejected.length !== events.length) {
    problems.push(`accepted ${accepted} + rejected ${rejected.length} ≠ ${events.length} events sent`);
  }
  const fates: EventFate[] = events.map(() => 'accepted');
  const seen = new Set<number>();
  for (const entry of rejected) {
    if (!isPlainJsonObject(entry) || !sameKeys(entry, ['index', 'id', 'code', 'message'])) {
      problems.push(`rejected entry is not {index,id,code,message}: ${JSON.stringify(entry).slice(0, 300)}`);
      continue;
    }
    const { index, id, code, message } = entry;
    if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= events.length || seen.has(index as number)) {
      problems.push(`rejected index ${JSON.stringify(index)} is out of range or repeated`);
      continue;
    }
    seen.add(index as number);
    const i = index as number;
    fates[i] = 'rejected';
    const exp = events[i] as EventExpectation;
    if (typeof message !== 'string' || message === '') problems.push(`event ${i}: empty or non-string message`);
    if (!EVENT_CODES.includes(code as EventErrorCode)) {
      problems.push(`event ${i}: code ${JSON.stringify(code)} is not a §6 per-event code`);
      continue;
    }
    if (id !== null && typeof id !== 'string') problems.push(`event ${i}: id ${JSON.stringify(id)} is neither a string nor null`);
    else if (typeof id === 'string' && exp.anyId !== true && id !== exp.id) problems.push(`event ${i}: rejected id ${JSON.stringify(id.slice(0, 80))} is not the event's id ${JSON.stringify(exp.id?.slice(0, 80))}`);
    if (exp.verdict === 'accept') problems.push(`event ${i} (${exp.mutation}) is valid but was rejected: ${code} ${JSON.stringify(message)}`);
    else if (exp.verdict === 'reject') {
      if (!exp.codes.includes(code as EventErrorCode)) problems.push(`event ${i} (${exp.mutation}): code ${code}, want ${exp.codes.join(' or ')}; message ${JSON.stringify(message)}`);
      else if (code === 'invalid_event' && exp.field !== undefined && typeof message === 'string' && !message.includes(exp.field)) {
        problems.push(`event ${i} (${exp.mutation}): invalid_event message ${JSON.stringify(message)} does not name ${exp.field}`);
      }
    }
  }
  events.forEach((exp, i) => {
    if (fates[i] === 'accepted' && exp.verdict === 'reject') problems.push(`event ${i} (${exp.mutation}) is invalid but was accepted`);
  });
  return fates;
}

/** `postgresWasDown`: PostgreSQL was unavailable at some moment of the exchange (postgres-watch.ts). */
export function judgeHttpCase(c: HttpCase, ex: ExchangeResult, postgresWasDown = false): Verdict {
  const problems: string[] = [];
  const events = c.expect.events ?? [];
  const unknown = (): EventFate[] => events.map(() => 'unknown');
  if (ex.malformed !== undefined) problems.push(`response is not HTTP: ${ex.malformed}`);
  const r = ex.responses[0];
  if (r === undefined) {
    const what = ex.timedOut ? 'timeout' : ex.malformed !== undefined ? 'malformed' : 'closed';
    if (c.expect.mayClose !== true || what === 'timeout') problems.push(`no response: ${what}${ex.error === undefined ? '' : ` (${ex.error})`}`);
    return { outcome: what, problems, fates: unknown() };
  }
  if (ex.extraBytes > 0) problems.push(`${ex.extraBytes} bytes after the response`);
  const { outcome, body } = checkShape(r, problems);
  if (r.status === 503) judge503(postgresWasDown, problems, outcome);
  const allowed = c.expect.outcomes;
  if (allowed !== 'any' && !allowed.includes(outcome as Outcome) && !ALWAYS_ALLOWED.includes(outcome as Outcome) && outcome !== 'not_ready') {
    const msg = body !== null && isPlainJsonObject(body.error) ? ` (${String(body.error.message)})` : '';
    problems.push(`outcome ${outcome}${msg}, want ${allowed.join(' | ')}`);
  }
  if (allowed === 'any' && (outcome === 'not_found' || outcome === 'method_not_allowed')) problems.push(`${outcome} on an ingest path`);
  let fates: EventFate[];
  if ((outcome === 'accepted' || outcome === 'no_valid_events') && body !== null && c.expect.events !== undefined) {
    fates = checkEvents(outcome, body, events, problems);
  } else if (outcome === 'accepted') {
    fates = unknown();
  } else if (outcome === 'not_ready' || outcome === 'overloaded' || outcome === 'rate_limited' || outcome.startsWith('status-')) {
    fates = unknown();
  } else {
    fates = events.map(() => 'rejected');
  }
  return { outcome, problems, fates };
}
