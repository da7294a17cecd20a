/**
 * HostileValue → MessagePack bytes, written by hand (not msgpackr) so that every form
 * can be chosen: uint 64 above int64, float 32 NaN, ext and timestamp, bin, str with
 * invalid UTF-8, duplicate and non-string map keys, and headers that lie about lengths.
 */
import { ByteSink, repeatBytes } from './byte-sink.js';
import {
  Bin,
  Deep,
  Entries,
  Ext,
  IntLiteral,
  JsonText,
  LengthClaim,
  LongString,
  MpFloat,
  RawString,
  Repeat,
  Special,
  isHostileObject,
  type HostileValue,
} from './hostile-value.js';

const utf8 = new TextEncoder();

export function writeMsgpack(v: HostileValue): Uint8Array {
  const sink = new ByteSink();
  writeValue(sink, v);
  return sink.toBytes();
}

function be(bytes: number, n: number | bigint): Uint8Array {
  const out = new Uint8Array(bytes);
  const dv = new DataView(out.buffer);
  if (bytes === 2) dv.setUint16(0, Number(n));
  else if (bytes === 4) dv.setUint32(0, Number(n));
  else dv.setBigUint64(0, BigInt.asUintN(64, BigInt(n)));
  return out;
}

function header(out: ByteSink, kind: 'str' | 'bin' | 'array' | 'map', n: number): void {
  switch (kind) {
    case 'str':
      if (n < 32) return out.byte(0xa0 | n);
      if (n < 0x100) return out.byte(0xd9, n);
      if (n < 0x10000) return out.bytes(Uint8Array.of(0xda, ...be(2, n)));
      return out.bytes(Uint8Array.of(0xdb, ...be(4, n)));
    case 'bin':
      if (n < 0x100) return out.byte(0xc4, n);
      if (n < 0x10000) return out.bytes(Uint8Array.of(0xc5, ...be(2, n)));
      return out.bytes(Uint8Array.of(0xc6, ...be(4, n)));
    case 'array':
      if (n < 16) return out.byte(0x90 | n);
      if (n < 0x10000) return out.bytes(Uint8Array.of(0xdc, ...be(2, n)));
      return out.bytes(Uint8Array.of(0xdd, ...be(4, n)));
    case 'map':
      if (n < 16) return out.byte(0x80 | n);
      if (n < 0x10000) return out.bytes(Uint8Array.of(0xde, ...be(2, n)));
      return out.bytes(Uint8Array.of(0xdf, ...be(4, n)));
  }
}

/** UTF-8, except that a lone surrogate is written as its own 3 bytes (WTF-8) rather than as U+FFFD. */
function wtf8(s: string): Uint8Array {
  if (!/[\ud800-\udfff]/.test(s)) return utf8.encode(s);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

function writeString(out: ByteSink, bytes: Uint8Array): void {
  header(out, 'str', bytes.length);
  out.bytes(bytes);
}

function writeFloat(out: ByteSink, value: number, width: 32 | 64): void {
  const b = new Uint8Array(width === 32 ? 5 : 9);
  const dv = new DataView(b.buffer);
  b[0] = width === 32 ? 0xca : 0xcb;
  if (width === 32) dv.setFloat32(1, value);
  else dv.setFloat64(1, value);
  out.bytes(b);
}

const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;

function writeInt(out: ByteSink, v: bigint, form: IntLiteral['mp']): void {
  if (form === 'f64' || form === 'f32') return writeFloat(out, Number(v), form === 'f64' ? 64 : 32);
  if (form === 'u64') return out.bytes(Uint8Array.of(0xcf, ...be(8, BigInt.asUintN(64, v))));
  if (form === 'i64') return out.bytes(Uint8Array.of(0xd3, ...be(8, BigInt.asUintN(64, v))));
  if (v < I64_MIN || v > U64_MAX) return writeFloat(out, Number(v), 64); // no int form holds it
  if (v >= 0n) {
    if (v < 128n) return out.byte(Number(v));
    if (v < 0x100n) return out.byte(0xcc, Number(v));
    if (v < 0x10000n) return out.bytes(Uint8Array.of(0xcd, ...be(2, v)));
    if (v < 0x100000000n) return out.bytes(Uint8Array.of(0xce, ...be(4, v)));
    return out.bytes(Uint8Array.of(0xcf, ...be(8, v)));
  }
  if (v >= -32n) return out.byte(Number(v) & 0xff);
  if (v >= -128n) return out.byte(0xd0, Number(v) & 0xff);
  if (v >= -32768n) return out.bytes(Uint8Array.of(0xd1, ...be(2, BigInt.asUintN(16, v))));
  if (v >= -2147483648n) return out.bytes(Uint8Array.of(0xd2, ...be(4, BigInt.asUintN(32, v))));
  return out.bytes(Uint8Array.of(0xd3, ...be(8, BigInt.asUintN(64, v))));
}

function writeNumber(out: ByteSink, n: number): void {
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) return writeInt(out, BigInt(n), 'auto');
  writeFloat(out, n, 64);
}

function writeValue(out: ByteSink, v: HostileValue): void {
  if (v === null) return out.byte(0xc0);
  if (v === false) return out.byte(0xc2);
  if (v === true) return out.byte(0xc3);
  if (typeof v === 'number') return writeNumber(out, v);
  if (typeof v === 'string') return writeString(out, wtf8(v));
  if (Array.isArray(v)) {
    header(out, 'array', v.length);
    for (const item of v) writeValue(out, item);
    return;
  }
  if (v instanceof Special) return writeSpecial(out, v);
  if (isHostileObject(v)) {
    const keys = Object.keys(v);
    header(out, 'map', keys.length);
    for (const k of keys) {
      writeString(out, wtf8(k));
      writeValue(out, v[k] as HostileValue);
    }
  }
}

function writeSpecial(out: ByteSink, v: Special): void {
  if (v instanceof IntLiteral) return writeInt(out, v.value, v.mp);
  if (v instanceof JsonText) return writeValue(out, v.mp);
  if (v instanceof MpFloat) return writeFloat(out, v.value, v.width);
  if (v instanceof RawString) return writeString(out, v.bytes);
  if (v instanceof Bin) {
    header(out, 'bin', v.bytes.length);
    out.bytes(v.bytes);
    return;
  }
  if (v instanceof Ext) {
    const n = v.data.length;
    const fixed: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };
    const fix = fixed[n];
    if (fix !== undefined) out.byte(fix, v.type & 0xff);
    else if (n < 0x100) out.byte(0xc7, n, v.type & 0xff);
    else if (n < 0x10000) out.bytes(Uint8Array.of(0xc8, ...be(2, n), v.type & 0xff));
    else out.bytes(Uint8Array.of(0xc9, ...be(4, n), v.type & 0xff));
    out.bytes(v.data);
    return;
  }
  if (v instanceof Entries) {
    header(out, 'map', v.entries.length);
    for (const [k, val] of v.entries) {
      writeValue(out, k);
      writeValue(out, val);
    }
    return;
  }
  if (v instanceof Deep) {
    // fixarray(1) or fixmap(1) {"a": …} per level.
    const level = v.container === 'array' ? Uint8Array.of(0x91) : Uint8Array.of(0x81, 0xa1, 0x61);
    out.bytes(repeatBytes(level, v.depth));
    writeValue(out, v.leaf);
    return;
  }
  if (v instanceof Repeat) {
    header(out, 'array', v.count);
    out.bytes(repeatBytes(writeMsgpack(v.element), v.count));
    return;
  }
  if (v instanceof LongString) {
    const unit = utf8.encode(v.unit);
    writeString(out, repeatBytes(unit, v.count));
    return;
  }
  if (v instanceof LengthClaim) {
    if (v.container === 'array' || v.container === 'map') {
      out.bytes(Uint8Array.of(v.container === 'array' ? 0xdd : 0xdf, ...be(4, v.count)));
      out.bytes(new Uint8Array(v.present).fill(0xc0));
    } else {
      out.bytes(Uint8Array.of(v.container === 'str' ? 0xdb : 0xc6, ...be(4, v.count)));
      out.bytes(new Uint8Array(v.present).fill(0x61));
    }
    return;
  }
  throw new Error(`msgpack-writer: unknown special node ${v.kind}`);
}
