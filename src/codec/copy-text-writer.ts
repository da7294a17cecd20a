/**
 * PostgreSQL COPY text format, written straight into a growable Buffer (row-buffer.ts).
 *
 * Format (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): columns
 * separated by TAB, rows ended by LF, NULL written as `\N`, UTF-8. In a value, backslash,
 * TAB, LF and CR are escaped (`\\`, `\t`, `\n`, `\r`); PostgreSQL requires exactly those
 * (plus the delimiter, which is TAB). Other control characters are written raw: COPY takes
 * them as data and PostgreSQL stores them in text columns. NUL cannot be stored at all and
 * is refused by validation (pg-text.ts) before anything reaches a writer. Since every
 * backslash of a value is doubled, no value can form the `\.` end-of-data marker.
 *
 * Hot path (STYLE #3): no per-field string concatenation; numbers and timestamps are
 * formatted digit by digit into the buffer.
 */
import { RowBuffer } from './row-buffer.js';
import type { RowWriter } from './row-writer.js';
import { civilFromDays } from './utc-calendar.js';

const TAB = 0x09;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const ZERO = 0x30;

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const NEEDS_ESCAPE_ALL = /[\\\t\n\r]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
function escapeChar(c: string): string {
  return ESCAPES[c] ?? c;
}

/**
 * Scratch for civilFromDays, shared by all writers of the thread (writes are synchronous),
 * and the day it holds: the rows of a batch mostly share their date.
 */
const ymd = new Int32Array(3);
let ymdDays = NaN;

export class CopyTextWriter extends RowBuffer implements RowWriter {
  constructor(initialBytes = 64 * 1024) {
    super(initialBytes);
  }

  // ---- whole fields. Each writes its value and a TAB; endRow() turns the last TAB into LF,
  // so no field needs to know whether it is the first of its row. ----

  nullField(): void {
    this.ensure(3);
    const b = this.buf;
    b[this.pos] = BACKSLASH;
    b[this.pos + 1] = 0x4e; // 'N'
    b[this.pos + 2] = TAB;
    this.pos += 3;
  }

  textField(s: string): void {
    this.appendEscaped(s);
    this.tab();
  }

  /**
   * Writes `s` as a field when it is ASCII from 0x0e up without a backslash (so nothing to
   * escape, nothing PostgreSQL refuses) and returns true; otherwise writes nothing and returns
   * false, and the caller classifies it (pg-text.ts textClass). One pass that checks and copies:
   * the common short ASCII value costs neither a regex scan nor a call into the UTF-8 encoder.
   */
  tryAsciiField(s: string): boolean {
    const n = s.length;
    this.ensure(n + 1);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f || c < 0x0e || c === BACKSLASH) return false;
      b[p++] = c;
    }
    b[p] = TAB;
    this.pos = p + 1;
    return true;
  }

  /** A string the caller knows has no backslash, TAB, LF or CR (pg-text.ts textClass): no escape scan. */
  plainTextField(s: string): void {
    this.ensure(s.length * 3 + 1); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.buf[this.pos++] = TAB;
  }

  /** A safe integer (callers validate ranges). */
  intField(n: number): void {
    this.appendInt(n);
    this.tab();
  }

  /** An int64 from int64.ts: a safe integer, or a canonical decimal string. */
  int64Field(v: number | string): void {
    this.appendInt64(v);
    this.tab();
  }

  boolField(b: boolean): void {
    this.ensure(2);
    this.buf[this.pos] = b ? 0x74 : 0x66; // 't' / 'f'
    this.buf[this.pos + 1] = TAB;
    this.pos += 2;
  }

  /** A finite double; JS's shortest round-trip form, which float8 input reads back exactly. */
  floatField(x: number): void {
    this.appendAscii(String(x));
    this.tab();
  }

  /**
   * A UTC instant as `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, which timestamptz reads in any
   * DateStyle and TimeZone. The caller guarantees year 0001..9999 (rfc3339.ts bounds).
   */
  timestampField(seconds: number, micros: number): void {
    this.ensure(32);
    const days = Math.floor(seconds / 86400);
    let sod = seconds - days * 86400;
    if (days !== ymdDays) {
      civilFromDays(days, ymd);
      ymdDays = days;
    }
    const b = this.buf;
    let p = this.pos;
    const y = ymd[0] as number;
    b[p++] = ZERO + Math.floor(y / 1000);
    b[p++] = ZERO + (Math.floor(y / 100) % 10);
    b[p++] = ZERO + (Math.floor(y / 10) % 10);
    b[p++] = ZERO + (y % 10);
    b[p++] = 0x2d; // '-'
    p = put2(b, p, ymd[1] as number);
    b[p++] = 0x2d;
    p = put2(b, p, ymd[2] as number);
    b[p++] = 0x20; // ' '
    const h = Math.floor(sod / 3600);
    sod -= h * 3600;
    const m = Math.floor(sod / 60);
    p = put2(b, p, h);
    b[p++] = 0x3a; // ':'
    p = put2(b, p, m);
    b[p++] = 0x3a;
    p = put2(b, p, sod - m * 60);
    if (micros > 0) {
      b[p++] = 0x2e; // '.'
      for (let scale = 100000; scale >= 1; scale /= 10) b[p++] = ZERO + (Math.floor(micros / scale) % 10);
    }
    b[p++] = 0x2b; // '+'
    b[p++] = ZERO;
    b[p++] = ZERO;
    b[p++] = TAB;
    this.pos = p;
  }

  /** The content of `other` (already COPY-escaped, e.g. a JSON document built there) as one field. */
  copiedField(other: CopyTextWriter): void {
    this.ensure(other.pos + 1);
    other.buf.copy(this.buf, this.pos, 0, other.pos);
    this.pos += other.pos;
    this.tab();
  }

  /** Ends the row: the TAB after its last field becomes LF. A row always has at least one field. */
  endRow(): void {
    this.buf[this.pos - 1] = LF;
    this.rowCount++;
  }

  // ---- raw appends, for building one field's content piecewise (no TAB) ----

  /** `s` escaped for COPY text. The escape regex runs once; replacing only when it matched keeps the common case copy-free. */
  appendEscaped(s: string): void {
    const text = NEEDS_ESCAPE.test(s) ? s.replace(NEEDS_ESCAPE_ALL, escapeChar) : s;
    this.ensure(text.length * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /** `s` must be ASCII without backslash, TAB, LF or CR (digits, JSON punctuation, ...). */
  appendAscii(s: string): void {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** A safe integer, digit by digit (no number-to-string allocation). */
  appendInt(n: number): void {
    this.ensure(17);
    const b = this.buf;
    if (n < 0) {
      b[this.pos++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    do {
      b[--p] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  appendInt64(v: number | string): void {
    if (typeof v === 'number') this.appendInt(v);
    else this.appendAscii(v);
  }

  private tab(): void {
    this.ensure(1);
    this.buf[this.pos++] = TAB;
  }
}

function put2(b: Buffer, p: number, v: number): number {
  b[p] = ZERO + Math.floor(v / 10);
  b[p + 1] = ZERO + (v % 10);
  return p + 2;
}
