import { MachPayInputError } from './errors.js';

/**
 * Checks for the string and number fields of §5 events, sized to the receiver's columns
 * (lengths in characters, i.e. code points, as VARCHAR(n) counts them). Bad identifiers
 * are the caller's bug and throw; free text from the outside world (URLs, error text) is
 * cleaned and cut to fit, because rejecting a payment's telemetry over a long query
 * string would lose more than it protects.
 */

/** Column lengths of schema/postgres/001_initial.sql, in characters. */
export const FIELD_LIMITS = {
  id: 64,
  route: 512,
  requestUrl: 512,
  requestMethod: 16,
  tokenMint: 64,
  errorType: 64,
  errorCode: 64,
  signature: 128,
  /** error_message is TEXT; this cap only keeps one event from dominating a batch. */
  errorMessage: 2048,
} as const;

const INT32_MAX = 2_147_483_647;

// NUL and unpaired surrogates cannot be stored in a PostgreSQL text column; the receiver
// rejects an event carrying them (docs/protocol.md §5, invalid_event).
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Code points, the unit of VARCHAR(n); only counted when the UTF-16 length is ambiguous. */
function fitsChars(s: string, max: number): boolean {
  if (s.length <= max) return true;
  if (s.length > 2 * max) return false;
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n <= max;
}

/** An identifier: non-empty, storable, at most `maxLength` characters; anything else throws. */
export function requireString(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) throw new MachPayInputError(field, 'must be a non-empty string');
  if (UNSTORABLE.test(value)) throw new MachPayInputError(field, 'must not contain NUL characters or unpaired surrogates');
  if (!fitsChars(value, maxLength)) throw new MachPayInputError(field, `must be at most ${maxLength} characters`);
  return value;
}

/**
 * Free text: NUL and unpaired surrogates become U+FFFD, then the text is cut to at most
 * `maxLength` characters without splitting a surrogate pair. Returns null for "".
 */
export function truncate(value: unknown, field: string, maxLength: number): string | null {
  if (typeof value !== 'string') throw new MachPayInputError(field, 'must be a string');
  if (value.length === 0) return null;
  const clean = UNSTORABLE.test(value) ? value.replace(UNSTORABLE_ALL, '\ufffd') : value;
  if (fitsChars(clean, maxLength)) return clean;
  let units = 0;
  for (let chars = 0; chars < maxLength && units < clean.length; chars++) {
    const c = clean.charCodeAt(units);
    units += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return clean.slice(0, units);
}

export function requireBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new MachPayInputError(field, 'must be a boolean');
  return value;
}

/** Milliseconds as the INT column wants them: finite, ≥ 0, rounded to an integer. */
export function requireLatencyMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new MachPayInputError(field, 'must be a finite number ≥ 0');
  const ms = Math.round(value);
  if (ms > INT32_MAX) throw new MachPayInputError(field, `must be at most ${INT32_MAX}`);
  return ms;
}

/** Event time from a Date or epoch milliseconds; defaults to now. */
export function eventTimeMs(value: Date | number | undefined, field: string): number {
  if (value === undefined) return Date.now();
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new MachPayInputError(field, 'must be a valid Date or epoch milliseconds');
  return ms;
}
