/**
 * MessagePack batch bodies. msgpackr decodes; a structural pre-scan runs first so that
 * hostile bytes never reach msgpackr's extension handlers (records, Date, Set, Error,
 * RegExp, BigInt, structured-clone references, bundled strings: code paths with their own
 * allocation and recursion behaviour, and values that are not JSON-like). The scan also
 * bounds nesting depth (msgpackr recurses) and yields the event count before any object
 * is built, so an oversized batch costs one pass over its bytes.
 *
 * What remains after the scan is JSON-like: nil, bool, int, float, str, array, map, and
 * bin (a Uint8Array view; field validation refuses it wherever a value is read).
 * Every str must be valid UTF-8 (msgpackr would quietly put U+FFFD in place of bad bytes,
 * merging distinct ids), as a JSON body must be.
 */
import { isUtf8 } from 'node:buffer';
import { Unpackr } from 'msgpackr';

/** Nesting limit of the whole document; the deepest field we read (telemetry errors) is at depth 6. */
export const MSGPACK_MAX_DEPTH = 32;

/**
 * int64AsType 'bigint': an int 64 / uint 64 arrives exact as a BigInt; when the scan saw one,
 * `plainIntegers` turns those within the safe range back into numbers, so an INT field sent
 * in a 64-bit form (some encoders use it for every integer) reads like any other integer,
 * and int64 fields keep the rest exact (int64.ts range-checks them). useRecords false and mapsAsObjects: maps
 * become plain objects (msgpackr renames a `__proto__` key to `__proto_`). structuredClone
 * false: belt and braces, the scan already refuses the reference extensions.
 */
const unpackr = new Unpackr({ int64AsType: 'bigint', useRecords: false, mapsAsObjects: true, structuredClone: false });

const SCAN_NOT_ARRAY = -1;
const SCAN_MALFORMED = -2;
const SCAN_EXTENSION = -3;
const SCAN_TOO_DEEP = -4;
const SCAN_BAD_UTF8 = -5;

/** Set by the last scan: whether the document holds an int 64 / uint 64 token. */
let sawWideInteger = false;

/** Values still to read at each open depth: one slot per depth, reused by every scan of the thread. */
const remaining = new Float64Array(MSGPACK_MAX_DEPTH + 2);

/**
 * Walks the token structure of `b` without building values. Returns the top-level array's
 * length, or a negative SCAN_* code. Iterative (explicit depth stack), O(tokens).
 */
export function scanMsgpack(b: Uint8Array): number {
  const end = b.length;
  if (end === 0) return SCAN_MALFORMED;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let topLength = SCAN_NOT_ARRAY;
  let pos = 0;
  let depth = 0;
  remaining[0] = 1;
  sawWideInteger = false;
  while (depth >= 0) {
    if (remaining[depth] === 0) {
      depth--;
      continue;
    }
    if (pos >= end) return SCAN_MALFORMED;
    remaining[depth] = (remaining[depth] as number) - 1;
    const isTop = pos === 0;
    const t = b[pos++] as number;
    let children = 0; // values inside a container token
    let skip = 0; // payload bytes after the token's header
    if (t <= 0x7f || t >= 0xe0) {
      // positive / negative fixint
    } else if (t <= 0x8f) {
      children = (t - 0x80) * 2;
    } else if (t <= 0x9f) {
      children = t - 0x90;
      if (isTop) topLength = children;
    } else if (t <= 0xbf) {
      skip = t - 0xa0;
    } else {
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4:
        case 0xd9:
          if (pos + 1 > end) return SCAN_MALFORMED;
          skip = b[pos] as number;
          pos += 1;
          break;
        case 0xc5:
        case 0xda:
          if (pos + 2 > end) return SCAN_MALFORMED;
          skip = dv.getUint16(pos);
          pos += 2;
          break;
        case 0xc6:
        case 0xdb:
          if (pos + 4 > end) return SCAN_MALFORMED;
          skip = dv.getUint32(pos);
          pos += 4;
          break;
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          sawWideInteger = true;
          break;
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf: {
          const wide = t === 0xdd || t === 0xdf;
          if (pos + (wide ? 4 : 2) > end) return SCAN_MALFORMED;
          const n = wide ? dv.getUint32(pos) : dv.getUint16(pos);
          pos += wide ? 4 : 2;
          children = t >= 0xde ? n * 2 : n;
          if (isTop && t <= 0xdd) topLength = n;
          break;
        }
        default:
          // 0xc1 (never used), 0xc7..0xc9 ext, 0xd4..0xd8 fixext
          return SCAN_EXTENSION;
      }
    }
    if (skip > 0) {
      if (skip > end - pos) return SCAN_MALFORMED;
      const isStr = (t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda || t === 0xdb;
      if (isStr && !isAsciiOrUtf8(b, pos, pos + skip)) return SCAN_BAD_UTF8;
      pos += skip;
    }
    if (children > 0) {
      // Every value takes at least one byte, so a count beyond the bytes left is a lie.
      if (children > end - pos) return SCAN_MALFORMED;
      if (depth + 1 > MSGPACK_MAX_DEPTH) return SCAN_TOO_DEEP;
      remaining[++depth] = children;
    }
  }
  if (pos !== end) return SCAN_MALFORMED; // trailing bytes after the document
  return topLength;
}

/**
 * Most strings are ASCII: a byte loop settles those without a native call or a subarray
 * per string; only a string with a byte >= 0x80 is handed to isUtf8.
 */
function isAsciiOrUtf8(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    if ((b[i] as number) >= 0x80) return isUtf8(b.subarray(from, to));
  }
  return true;
}

export type MsgpackParseResult = { ok: true; events: unknown[] } | { ok: false; code: 'invalid_body' | 'too_many_events'; message: string };

export function parseMsgpackBatch(body: Uint8Array, maxEvents: number): MsgpackParseResult {
  const n = scanMsgpack(body);
  if (n < 0) {
    const message =
      n === SCAN_NOT_ARRAY
        ? 'The MessagePack body must be an array of events.'
        : n === SCAN_EXTENSION
          ? 'MessagePack extension types are not accepted.'
          : n === SCAN_TOO_DEEP
            ? `The MessagePack body is nested deeper than ${MSGPACK_MAX_DEPTH} levels.`
            : n === SCAN_BAD_UTF8
              ? 'A MessagePack string is not valid UTF-8.'
              : 'The body is not valid MessagePack.';
    return { ok: false, code: 'invalid_body', message };
  }
  if (n > maxEvents) return tooMany(n, maxEvents);
  let value: unknown;
  try {
    value = unpackr.unpack(body);
  } catch {
    return { ok: false, code: 'invalid_body', message: 'The body is not valid MessagePack.' };
  }
  if (!Array.isArray(value)) return { ok: false, code: 'invalid_body', message: 'The MessagePack body must be an array of events.' };
  if (sawWideInteger) plainIntegers(value, 0);
  return { ok: true, events: value };
}

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** In place: BigInts within the safe range become numbers. Depth is bounded by the scan. */
function plainIntegers(node: unknown, depth: number): void {
  if (depth > MSGPACK_MAX_DEPTH || node === null || typeof node !== 'object') return;
  const container = node as Record<string, unknown>;
  for (const key of Object.keys(container)) {
    const v = container[key];
    if (typeof v === 'bigint') {
      if (v >= SAFE_MIN && v <= SAFE_MAX) container[key] = Number(v);
    } else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
      plainIntegers(v, depth + 1);
    }
  }
}

export function tooMany(n: number, maxEvents: number): { ok: false; code: 'too_many_events'; message: string } {
  return { ok: false, code: 'too_many_events', message: `The request carries ${n} events; the limit is ${maxEvents}.` };
}
