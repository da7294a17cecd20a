/**
 * CloudEvents 1.0 attributes of docs/protocol.md §2 (the `type` is checked earlier, by
 * encode-event.ts, because its outcome has its own rejection code).
 */
import { fitsVarchar, isStorableText } from '../pg-text.js';
import { parseRfc3339, type UtcInstant } from '../rfc3339.js';
import { isPlainObject, type PlainObject } from './plain-object.js';

export const MAX_ID_LENGTH = 128;
export const MAX_SOURCE_LENGTH = 256;

/** The validated attributes of one event; one instance is reused for every event of a thread. */
export interface Envelope {
  id: string;
  source: string;
  time: UtcInstant;
  data: PlainObject;
}

export function newEnvelope(): Envelope {
  return { id: '', source: '', time: { seconds: 0, micros: 0 }, data: Object.create(null) as PlainObject };
}

/**
 * URI-reference (RFC 3986 §4.1) by character set: unreserved, reserved and `%`, which
 * excludes whitespace, control characters and non-ASCII (an IRI must be percent-encoded).
 * The grammar beyond the character set is not enforced.
 */
const URI_REFERENCE_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
/** A `%` not followed by two hex digits. */
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/** The last source that passed the checks below: the events of a batch mostly share one. */
let lastValidSource = '';

export function isValidId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && fitsVarchar(v, MAX_ID_LENGTH) && isStorableText(v);
}

/** Fills `out` from `evt` and returns null, or returns the error message naming the attribute. */
export function validateEnvelope(evt: PlainObject, out: Envelope): string | null {
  if (evt.specversion !== '1.0') return 'specversion: must be "1.0"';
  const id = evt.id;
  if (!isValidId(id)) {
    return `id: must be a non-empty string of at most ${MAX_ID_LENGTH} characters without NUL characters or unpaired surrogates`;
  }
  const source = evt.source;
  if (typeof source !== 'string' || source.length === 0 || source.length > MAX_SOURCE_LENGTH) {
    return `source: must be a non-empty URI-reference of at most ${MAX_SOURCE_LENGTH} characters`;
  }
  if (source !== lastValidSource) {
    if (!URI_REFERENCE_CHARS.test(source) || BAD_PERCENT.test(source)) {
      return 'source: must be a URI-reference (no whitespace, control or non-ASCII characters; % followed by two hex digits)';
    }
    lastValidSource = source;
  }
  const time = evt.time;
  if (time === undefined || time === null) return 'time: required';
  if (typeof time !== 'string' || !parseRfc3339(time, out.time)) {
    return 'time: must be an RFC 3339 date-time (e.g. 2026-01-31T12:00:00.000Z) between years 0001 and 9999';
  }
  const data = evt.data;
  if (!isPlainObject(data)) return 'data: must be an object';
  out.id = id;
  out.source = source;
  out.data = data;
  return null;
}
