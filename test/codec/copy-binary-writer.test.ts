import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CopyBinaryWriter } from '../../src/codec/index.js';
import { parseCopyBinary } from './support.js';

/** µs since 2000-01-01 UTC, computed exactly. */
function pgMicros(seconds: number, micros: number): bigint {
  return (BigInt(seconds) - 946684800n) * 1_000_000n + BigInt(micros);
}

function oneField(write: (w: CopyBinaryWriter) => void): Buffer {
  const w = new CopyBinaryWriter(64);
  write(w);
  w.endRow();
  const b = Buffer.from(w.bytes());
  expect(b.readInt16BE(0), 'field count').toBe(1);
  return b.subarray(2);
}

describe('CopyBinaryWriter', () => {
  it('writes a field count per row, int32 lengths, -1 for NULL, and big-endian values', () => {
    const w = new CopyBinaryWriter(16);
    w.textField('é😀');
    w.nullField();
    w.intField(-2);
    w.int64Field(-1);
    w.int64Field('9223372036854775807');
    w.boolField(true);
    w.endRow();
    expect(w.rows).toBe(1);
    const b = Buffer.from(w.bytes());
    expect(b.toString('hex')).toBe(
      '0006' +
        '00000006' + Buffer.from('é😀').toString('hex') +
        'ffffffff' +
        '00000004' + 'fffffffe' +
        '00000008' + 'ffffffffffffffff' +
        '00000008' + '7fffffffffffffff' +
        '00000001' + '01',
    );
  });

  it('timestamps are exact microseconds since 2000 across years 0001..9999', () => {
    const cases: [number, number][] = [
      [946684800, 0],
      [946684799, 999999],
      [-62135596800, 0],
      [253402300799, 999999],
      [0, 1],
    ];
    fc.assert(
      fc.property(fc.integer({ min: -62135596800, max: 253402300799 }), fc.integer({ min: 0, max: 999999 }), (s, us) => {
        expect(oneField((w) => w.timestampField(s, us)).readBigInt64BE(4)).toBe(pgMicros(s, us));
      }),
    );
    for (const [s, us] of cases) expect(oneField((w) => w.timestampField(s, us)).readBigInt64BE(4), `${s}.${us}`).toBe(pgMicros(s, us));
  });

  it('int64 fields are exact for safe integers and decimal strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)), (v) => {
        expect(oneField((w) => w.int64Field(v)).readBigInt64BE(4)).toBe(BigInt(v));
      }),
    );
  });

  it('tryAsciiField writes ASCII without NUL and nothing otherwise; textField takes the rest', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (s) => {
        const w = new CopyBinaryWriter(8);
        w.intField(1);
        const fast = w.tryAsciiField(s);
        expect(fast).toBe(/^[\x01-\x7f]*$/.test(s));
        if (!fast) w.textField(s);
        w.endRow();
        const reference = new CopyBinaryWriter(8);
        reference.intField(1);
        reference.textField(s);
        reference.endRow();
        expect(Buffer.from(w.bytes()).equals(Buffer.from(reference.bytes()))).toBe(true);
      }),
    );
  });

  it('rolls back whole rows and grows past its initial size', () => {
    const w = new CopyBinaryWriter(8);
    w.textField('kept');
    w.endRow();
    const mark = w.mark();
    w.textField('x'.repeat(1000));
    w.rollback(mark);
    w.textField('also');
    w.endRow();
    expect(parseCopyBinary(w.bytes(), ['text'])).toEqual([['kept'], ['also']]);
  });
});
