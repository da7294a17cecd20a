import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CopyTextWriter } from '../../src/codec/index.js';
import { parseCopyText } from './support.js';

function text(w: CopyTextWriter): string {
  return Buffer.from(w.bytes()).toString('utf8');
}

describe('CopyTextWriter', () => {
  it('writes TAB-separated fields, LF-terminated rows and \\N for NULL', () => {
    const w = new CopyTextWriter(64);
    w.textField('a');
    w.nullField();
    w.intField(-42);
    w.boolField(true);
    w.boolField(false);
    w.int64Field('9223372036854775807');
    w.floatField(0.25);
    w.endRow();
    w.textField('only');
    w.endRow();
    expect(text(w)).toBe('a\t\\N\t-42\tt\tf\t9223372036854775807\t0.25\nonly\n');
    expect(w.rows).toBe(2);
    expect(w.byteLength).toBe(Buffer.byteLength(text(w)));
  });

  it('escapes backslash, TAB, LF and CR; writes other control characters and Unicode raw as UTF-8', () => {
    const w = new CopyTextWriter(64);
    w.textField('back\\slash\ttab\nnl\rcr');
    w.textField('\u0001\u001f\u007f é 😀 \\N \\.');
    w.endRow();
    expect(text(w)).toBe('back\\\\slash\\ttab\\nnl\\rcr\t\u0001\u001f\u007f é 😀 \\\\N \\\\.\n');
    expect(parseCopyText(w.bytes())).toEqual([['back\\slash\ttab\nnl\rcr', '\u0001\u001f\u007f é 😀 \\N \\.']]);
  });

  it('formats integers digit by digit across the safe range', () => {
    const w = new CopyTextWriter(64);
    for (const n of [0, -0, 7, 10, 99, 100, -1, 2147483647, -2147483648, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) w.intField(n);
    w.endRow();
    expect(text(w)).toBe('0\t0\t7\t10\t99\t100\t-1\t2147483647\t-2147483648\t9007199254740991\t-9007199254740991\n');
  });

  it('formats timestamps in UTC with optional microseconds', () => {
    const w = new CopyTextWriter(64);
    w.timestampField(0, 0);
    w.timestampField(-62135596800, 1);
    w.timestampField(253402300799, 999999);
    w.timestampField(951782400, 120000); // 2000-02-29
    w.endRow();
    expect(text(w)).toBe('1970-01-01 00:00:00+00\t0001-01-01 00:00:00.000001+00\t9999-12-31 23:59:59.999999+00\t2000-02-29 00:00:00.120000+00\n');
  });

  it('timestamps agree with Date for random instants', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62135596800, max: 253402300799 }), fc.integer({ min: 0, max: 999999 }), (s, us) => {
        const w = new CopyTextWriter(64);
        w.timestampField(s, us);
        w.endRow();
        const iso = new Date(s * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z for years 0001..9999
        const expected = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${us > 0 ? '.' + String(us).padStart(6, '0') : ''}+00\n`;
        expect(text(w)).toBe(expected);
      }),
    );
  });

  it('grows past its initial size, keeps earlier rows, and rolls back', () => {
    const w = new CopyTextWriter(64);
    const long = 'x'.repeat(1000) + '😀'.repeat(500);
    w.textField('first');
    w.endRow();
    const mark = w.mark();
    w.textField(long);
    w.rollback(mark);
    w.textField(long);
    w.endRow();
    expect(parseCopyText(w.bytes())).toEqual([['first'], [long]]);
    w.rollback(0, 0);
    expect(w.rows).toBe(0);
    expect(w.byteLength).toBe(0);
    w.textField('again');
    w.endRow();
    w.reset();
    expect(w.bytes().length).toBe(0);
  });

  it('copiedField embeds another writer\'s content as one field', () => {
    const inner = new CopyTextWriter(64);
    inner.appendAscii('{"a":');
    inner.appendInt(1);
    inner.appendEscaped(',"b\\"":"\t"}');
    const w = new CopyTextWriter(64);
    w.intField(1);
    w.copiedField(inner);
    w.endRow();
    expect(parseCopyText(w.bytes())).toEqual([['1', '{"a":1,"b\\"":"\t"}']]);
  });

  it('tryAsciiField writes what textField would, or nothing and answers false', () => {
    const chars = fc.constantFrom('a', 'Z', '0', ' ', '~', '%', '\\', '\t', '\n', '\r', '\u0000', '\u0001', '\u000d', '\u000e', '\u007f', '\u0080', 'é', '😀');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 30 }).map((a) => a.join('')), (v) => {
        const fast = new CopyTextWriter(64);
        fast.textField('x');
        const written = fast.tryAsciiField(v);
        const plain = /^[\x0e-\x7f]*$/.test(v) && !v.includes('\\');
        expect(written).toBe(plain);
        const reference = new CopyTextWriter(64);
        reference.textField('x');
        if (written) reference.textField(v);
        expect(text(fast)).toBe(text(reference));
      }),
    );
  });

  it('timestamps on the same day and on another day in turn', () => {
    const w = new CopyTextWriter(64);
    for (const s of [3 * 86400 + 5, 3 * 86400 + 7, 4 * 86400, 3 * 86400, -86400]) w.timestampField(s, 0);
    w.endRow();
    expect(text(w)).toBe('1970-01-04 00:00:05+00\t1970-01-04 00:00:07+00\t1970-01-05 00:00:00+00\t1970-01-04 00:00:00+00\t1969-12-31 00:00:00+00\n');
  });

  it('round-trips arbitrary strings through the COPY text parser', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { minLength: 1, maxLength: 8 }), (values) => {
        const w = new CopyTextWriter(64);
        for (const v of values) w.textField(v);
        w.endRow();
        expect(parseCopyText(w.bytes())).toEqual([values]);
      }),
    );
  });
});
