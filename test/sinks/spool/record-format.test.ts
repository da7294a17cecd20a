import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRC_SLICE_BYTES, crc32, crc32Sliced, crc32Table } from '../../../src/sinks/spool/crc32.js';
import {
  CURSOR_BYTES,
  decodeCursor,
  decodeFileHeader,
  decodeRecordHeader,
  encodeCursor,
  encodeFileHeader,
  encodeRecordHeader,
  FILE_HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  REC_HEADER_BYTES,
  RECORD_MAGIC,
  RECORD_MAGIC_BYTES,
  type RecordHeader,
} from '../../../src/sinks/spool/record-format.js';

const idArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constant(Number.MAX_SAFE_INTEGER));
const headerArb: fc.Arbitrary<RecordHeader> = fc.record({
  id: idArb,
  length: fc.oneof(fc.constantFrom(0, MAX_PAYLOAD_BYTES), fc.integer({ min: 0, max: MAX_PAYLOAD_BYTES })),
  appendedAt: fc.integer({ min: 0, max: 2 ** 45 }),
  payloadCrc: fc.integer({ min: 0, max: 0xffffffff }),
});

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

describe('crc32', () => {
  it('the table version matches zlib, also when chained', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(3000), (data, split) => {
        const cut = Math.min(split, data.length);
        const whole = zlib.crc32(data);
        expect(crc32Table(data)).toBe(whole);
        expect(crc32Table(data.subarray(cut), crc32Table(data.subarray(0, cut)))).toBe(whole);
        expect(crc32(data)).toBe(whole);
      }),
    );
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926); // the CRC-32 check value
  });

  it.each([0, 1, CRC_SLICE_BYTES - 1, CRC_SLICE_BYTES, CRC_SLICE_BYTES + 1, 3 * CRC_SLICE_BYTES + 17])('sliced CRC of %i bytes equals one-shot', async (n) => {
    const data = Buffer.alloc(n, 0x5a);
    if (n > 0) data[n - 1] = 1;
    expect(await crc32Sliced(data)).toBe(zlib.crc32(data));
  });
});

describe('record header', () => {
  it('round-trips every field, ids up to 2^53 - 1', () => {
    fc.assert(
      fc.property(headerArb, (header) => {
        const bytes = new Uint8Array(REC_HEADER_BYTES);
        encodeRecordHeader(bytes, header);
        expect(decodeRecordHeader(bytes)).toEqual(header);
      }),
    );
  });

  it('refuses a header with any single bit flipped', () => {
    fc.assert(
      fc.property(headerArb, fc.nat(REC_HEADER_BYTES * 8 - 1), (header, bit) => {
        const bytes = new Uint8Array(REC_HEADER_BYTES);
        encodeRecordHeader(bytes, header);
        expect(decodeRecordHeader(flipBit(bytes, bit))).toBeNull();
      }),
    );
  });

  it('refuses short input and all-zero bytes', () => {
    const bytes = new Uint8Array(REC_HEADER_BYTES);
    encodeRecordHeader(bytes, { id: 1, length: 0, appendedAt: 0, payloadCrc: 0 });
    expect(decodeRecordHeader(bytes.subarray(0, REC_HEADER_BYTES - 1))).toBeNull();
    expect(decodeRecordHeader(new Uint8Array(REC_HEADER_BYTES))).toBeNull();
  });

  it('has the magic the resynchronisation searches for at offset 0', () => {
    expect(Buffer.from(RECORD_MAGIC_BYTES).readUInt32LE(0)).toBe(RECORD_MAGIC);
    const bytes = new Uint8Array(REC_HEADER_BYTES);
    encodeRecordHeader(bytes, { id: 7, length: 3, appendedAt: 1, payloadCrc: 2 });
    expect(Buffer.from(bytes).indexOf(RECORD_MAGIC_BYTES)).toBe(0);
  });
});

describe('file header and cursor', () => {
  it('round-trip and refuse any flipped bit', () => {
    fc.assert(
      fc.property(idArb, fc.nat(FILE_HEADER_BYTES * 8 - 1), fc.nat(CURSOR_BYTES * 8 - 1), (id, fileBit, cursorBit) => {
        const header = encodeFileHeader(id, Date.now());
        expect(decodeFileHeader(header)).toBe(id);
        expect(decodeFileHeader(flipBit(header, fileBit))).toBeNull();
        const cursor = new Uint8Array(CURSOR_BYTES);
        encodeCursor(cursor, id);
        expect(decodeCursor(cursor)).toBe(id);
        expect(decodeCursor(flipBit(cursor, cursorBit))).toBeNull();
      }),
    );
    expect(decodeCursor(new Uint8Array(CURSOR_BYTES))).toBeNull();
  });
});
