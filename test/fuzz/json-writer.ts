/**
 * HostileValue → JSON bytes. Plain values are written as JSON.stringify would (lone
 * surrogates come out as `\udXXX` escapes); Special nodes write what JSON.stringify cannot.
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

export function writeJson(v: HostileValue): Uint8Array {
  const sink = new ByteSink();
  writeValue(sink, v);
  return sink.toBytes();
}

export function jsonText(v: HostileValue): string {
  return Buffer.from(writeJson(v)).toString('utf8');
}

/** True when JSON.stringify writes `v` exactly as this writer would (no Special node inside). */
function plain(v: HostileValue, budget: { n: number }): boolean {
  if (--budget.n < 0) return false;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every((x) => plain(x, budget));
  if (v instanceof Special) return false;
  return Object.keys(v).every((k) => plain(v[k] as HostileValue, budget));
}

function writeValue(out: ByteSink, v: HostileValue): void {
  // Most subtrees hold no special node: one JSON.stringify is far cheaper than a walk.
  if (typeof v === 'object' && v !== null && !(v instanceof Special) && plain(v, { n: 2000 })) return out.text(JSON.stringify(v));
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return out.text(JSON.stringify(v));
  if (typeof v === 'number') return out.text(Number.isFinite(v) ? JSON.stringify(v) : String(v));
  if (Array.isArray(v)) {
    out.text('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.text(',');
      writeValue(out, v[i] as HostileValue);
    }
    out.text(']');
    return;
  }
  if (v instanceof Special) return writeSpecial(out, v);
  if (isHostileObject(v)) {
    out.text('{');
    let first = true;
    for (const k of Object.keys(v)) {
      if (!first) out.text(',');
      first = false;
      out.text(JSON.stringify(k));
      out.text(':');
      writeValue(out, v[k] as HostileValue);
    }
    out.text('}');
  }
}

function writeSpecial(out: ByteSink, v: Special): void {
  if (v instanceof IntLiteral) return out.text(v.value.toString());
  if (v instanceof JsonText) return out.text(v.text);
  if (v instanceof MpFloat) return out.text(Number.isFinite(v.value) ? JSON.stringify(v.value) : String(v.value));
  if (v instanceof RawString) {
    out.text('"');
    out.bytes(v.bytes);
    out.text('"');
    return;
  }
  if (v instanceof Bin) return out.text(JSON.stringify(Buffer.from(v.bytes).toString('base64')));
  if (v instanceof Ext) return out.text('null');
  if (v instanceof Entries) {
    out.text('{');
    v.entries.forEach(([k, val], i) => {
      if (i > 0) out.text(',');
      out.text(JSON.stringify(typeof k === 'string' ? k : JSON.stringify(k)));
      out.text(':');
      writeValue(out, val);
    });
    out.text('}');
    return;
  }
  if (v instanceof Deep) {
    const open = v.container === 'array' ? '[' : '{"a":';
    const close = v.container === 'array' ? ']' : '}';
    out.bytes(repeatBytes(new TextEncoder().encode(open), v.depth));
    writeValue(out, v.leaf);
    out.bytes(repeatBytes(new TextEncoder().encode(close), v.depth));
    return;
  }
  if (v instanceof Repeat) {
    out.text('[');
    if (v.count > 0) {
      const one = writeJson(v.element);
      const withComma = new Uint8Array(one.length + 1);
      withComma.set(one, 0);
      withComma[one.length] = 0x2c;
      out.bytes(repeatBytes(withComma, v.count - 1));
      out.bytes(one);
    }
    out.text(']');
    return;
  }
  if (v instanceof LongString) {
    const unit = JSON.stringify(v.unit).slice(1, -1);
    out.text('"');
    out.bytes(repeatBytes(new TextEncoder().encode(unit), v.count));
    out.text('"');
    return;
  }
  if (v instanceof LengthClaim) return out.text('[');
  throw new Error(`json-writer: unknown special node ${v.kind}`);
}
