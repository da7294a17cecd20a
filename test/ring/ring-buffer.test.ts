import { describe, expect, it } from 'vitest';
import { CONTROL_BYTES, POSITION_MASK, RECORD_HEADER_BYTES, RING_LAYOUT, RingBuffer } from '../../src/ring/index.js';
import { ringAtPosition } from './fixtures/ring-at-position.js';

const KiB = 1024;
const CAP = 64 * KiB;

describe('RingBuffer.create', () => {
  it.each([0, -65536, 1, 32 * KiB, 64 * KiB - 1, 64 * KiB + 16, 96 * KiB, 65536.5, NaN, Infinity, 2 ** 31, 2 ** 32])(
    'rejects capacity %s',
    (capacity) => {
      expect(() => RingBuffer.create(capacity)).toThrow(RangeError);
    },
  );

  it('lays out header + data and derives the record limit', () => {
    const ring = RingBuffer.create(CAP);
    expect(ring.capacity).toBe(CAP);
    expect(ring.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(ring.buffer.byteLength).toBe(CONTROL_BYTES + CAP);
    expect(ring.bytes.byteLength).toBe(CAP);
    expect(ring.bytes.byteOffset).toBe(CONTROL_BYTES);
    expect(ring.maxRecordBytes).toBe(CAP / 2 - RECORD_HEADER_BYTES);
    expect(ring.usedBytes()).toBe(0);
    expect(ring.publishedSequence()).toBe(0);
  });

  it('accepts larger powers of two', () => {
    expect(RingBuffer.create(1024 * KiB).capacity).toBe(1024 * KiB);
  });
});

describe('reserve', () => {
  it('aligns records to 16 bytes and payloads to 8', () => {
    const ring = RingBuffer.create(CAP);
    const a = ring.reserve(1);
    const b = ring.reserve(0);
    const c = ring.reserve(17);
    expect([a, b, c]).toEqual([0, 32, 48]);
    expect(ring.usedBytes()).toBe(32 + 16 + 48);
    for (const p of [a, b, c]) {
      expect((ring.payload(p).byteOffset & 7) === 0).toBe(true);
      expect(ring.payloadOffset(p) % 8).toBe(0);
    }
    expect(ring.payload(b).byteLength).toBe(0);
    expect(ring.payloadLength(c)).toBe(17);
  });

  it('returns -1 above maxRecordBytes and accepts exactly maxRecordBytes', () => {
    const ring = RingBuffer.create(CAP);
    expect(ring.reserve(ring.maxRecordBytes + 1)).toBe(-1);
    expect(ring.reserve(2 ** 40)).toBe(-1);
    expect(ring.usedBytes()).toBe(0);
    const p = ring.reserve(ring.maxRecordBytes);
    expect(p).toBe(0);
    expect(ring.usedBytes()).toBe(CAP / 2);
  });

  it.each([-1, 1.5, NaN, -Infinity])('throws for length %s', (length) => {
    expect(() => RingBuffer.create(CAP).reserve(length)).toThrow(RangeError);
  });

  it('returns -1 when full without throwing, and recovers after release', () => {
    const ring = RingBuffer.create(CAP);
    const held: number[] = [];
    for (;;) {
      const p = ring.reserve(1000);
      if (p < 0) break;
      held.push(p);
    }
    expect(held.length).toBe(Math.floor(CAP / 1024));
    expect(ring.reserve(0)).toBe(-1);
    expect(ring.usedBytes()).toBe(held.length * 1024);
    ring.release(held[0] as number);
    expect(ring.reserve(1000)).not.toBe(-1);
  });

  it('never wraps a record: pads the end and starts again at 0', () => {
    const ring = RingBuffer.create(CAP);
    const a = ring.reserve(30_000 - RECORD_HEADER_BYTES); // [0, 30000)
    const b = ring.reserve(10_000 - RECORD_HEADER_BYTES); // [30000, 40000)
    ring.release(a);
    // 25536 bytes remain before the end: 30000 must go to offset 0 behind a pad,
    // which fills the ring exactly.
    const c = ring.reserve(30_000 - RECORD_HEADER_BYTES);
    expect(c).toBe(CAP);
    expect(ring.payloadOffset(c)).toBe(RECORD_HEADER_BYTES);
    expect(ring.usedBytes()).toBe(CAP);
    expect(ring.reserve(0)).toBe(-1);
    // The pad and the new record are reclaimed only after the older b.
    ring.release(c);
    expect(ring.usedBytes()).toBe(CAP);
    ring.release(b);
    expect(ring.usedBytes()).toBe(0);
  });

  it('does not count a pad when the ring was empty', () => {
    const ring = ringAtPosition(CAP, CAP - 64);
    const p = ring.reserve(100);
    expect(p).toBe(CAP);
    expect(ring.usedBytes()).toBe(128);
    ring.release(p);
    expect(ring.usedBytes()).toBe(0);
  });

  it('carries positions across 2^31', () => {
    const start = POSITION_MASK + 1 - 48;
    const ring = ringAtPosition(CAP, start);
    const a = ring.reserve(16); // 32 bytes, leaving 16 before 2^31 (= the end of the data area)
    const b = ring.reserve(16); // pad of 16, then position 0 again
    const c = ring.reserve(16);
    expect(a).toBe(start);
    expect(b).toBe(0);
    expect(c).toBe(32);
    expect(ring.usedBytes()).toBe(32 + 16 + 32 + 32);
    ring.payload(c).set([1, 2, 3]);
    ring.release(b);
    ring.release(a);
    expect(ring.usedBytes()).toBe(32);
    expect(Array.from(ring.payload(c).subarray(0, 3))).toEqual([1, 2, 3]);
    ring.release(c);
    expect(ring.usedBytes()).toBe(0);
  });
});

describe('release', () => {
  it('reclaims strictly in reservation order', () => {
    const ring = RingBuffer.create(CAP);
    const a = ring.reserve(100); // 128
    const b = ring.reserve(200); // 224
    const c = ring.reserve(300); // 320
    ring.release(b);
    expect(ring.usedBytes()).toBe(128 + 224 + 320);
    ring.release(a);
    expect(ring.usedBytes()).toBe(320);
    ring.release(c);
    expect(ring.usedBytes()).toBe(0);
  });

  it('accepts a record that was never published (aborted request)', () => {
    const ring = RingBuffer.create(CAP);
    const a = ring.reserve(10);
    ring.release(a);
    expect(ring.usedBytes()).toBe(0);
  });

  it('throws when releasing twice, whether or not the tail has moved past', () => {
    const ring = RingBuffer.create(CAP);
    const a = ring.reserve(10);
    const b = ring.reserve(10);
    ring.release(b);
    expect(() => ring.release(b)).toThrow(/already released/);
    ring.release(a);
    expect(() => ring.release(a)).toThrow(/no live record/);
    expect(() => ring.release(b)).toThrow(/no live record/);
    expect(ring.usedBytes()).toBe(0);
  });

  it.each([16, 32, 4096, 5, -1, 1.5, NaN, 2 ** 31, CAP])('throws for never-reserved position %s', (position) => {
    const ring = RingBuffer.create(CAP);
    ring.reserve(10); // a live record at 0, so the ring is not empty
    expect(() => ring.release(position)).toThrow(RangeError);
    expect(ring.usedBytes()).toBe(32);
  });

  it('throws for a stale handle whose memory now holds a newer record', () => {
    const ring = RingBuffer.create(CAP);
    const old = ring.reserve(ring.maxRecordBytes);
    const mid = ring.reserve(ring.maxRecordBytes);
    ring.release(old);
    const fresh = ring.reserve(ring.maxRecordBytes);
    expect(fresh & (CAP - 1)).toBe(old & (CAP - 1));
    expect(() => ring.release(old)).toThrow(RangeError);
    expect(() => ring.publish(old)).toThrow(RangeError);
    ring.release(mid);
    ring.release(fresh);
    expect(ring.usedBytes()).toBe(0);
  });
});

describe('publish', () => {
  it('bumps the published sequence and refuses a second publish', () => {
    const ring = RingBuffer.create(CAP);
    const a = ring.reserve(3);
    ring.payload(a).set([7, 8, 9]);
    ring.publish(a);
    expect(ring.publishedSequence()).toBe(1);
    expect(() => ring.publish(a)).toThrow(/published/);
    ring.release(a);
    expect(() => ring.publish(a)).toThrow(RangeError);
  });

  it('marks the record PUBLISHED in shared memory', () => {
    const ring = RingBuffer.create(CAP);
    ring.reserve(40);
    const p = ring.reserve(5);
    const words = new Int32Array(ring.buffer);
    const w = (CONTROL_BYTES + (p & (CAP - 1))) / 4;
    expect(words[w + RING_LAYOUT.REC_STATE]).toBe(RING_LAYOUT.STATE_RESERVED);
    ring.publish(p);
    expect(words[w + RING_LAYOUT.REC_STATE]).toBe(RING_LAYOUT.STATE_PUBLISHED);
    expect(words[w + RING_LAYOUT.REC_LENGTH]).toBe(5);
    expect(words[w + RING_LAYOUT.REC_POSITION]).toBe(p);
  });
});

describe('attach', () => {
  it('refuses buffers that are not rings', () => {
    expect(() => RingBuffer.attach(new SharedArrayBuffer(CONTROL_BYTES + CAP))).toThrow(TypeError);
    expect(() => RingBuffer.attach(new SharedArrayBuffer(8))).toThrow(TypeError);
    expect(() => RingBuffer.attach(new ArrayBuffer(CONTROL_BYTES + CAP) as unknown as SharedArrayBuffer)).toThrow(TypeError);
  });

  it('gives a reader that sees only published records and cannot move the cursors', () => {
    const ring = RingBuffer.create(CAP);
    const reader = RingBuffer.attach(ring.buffer);
    expect(reader.capacity).toBe(CAP);
    expect(reader.maxRecordBytes).toBe(ring.maxRecordBytes);

    const p = ring.reserve(4);
    ring.payload(p).set([1, 2, 3, 4]);
    expect(() => reader.payload(p)).toThrow(/no published record/);
    ring.publish(p);
    expect(Array.from(reader.payload(p))).toEqual([1, 2, 3, 4]);
    expect(reader.payloadLength(p)).toBe(4);
    expect(Array.from(reader.bytes.subarray(reader.payloadOffset(p), reader.payloadOffset(p) + 4))).toEqual([1, 2, 3, 4]);
    expect(reader.usedBytes()).toBe(ring.usedBytes());
    expect(reader.publishedSequence()).toBe(1);

    expect(() => reader.reserve(1)).toThrow(/only the instance from RingBuffer.create/);
    expect(() => reader.publish(p)).toThrow(/only the instance from RingBuffer.create/);
    expect(() => reader.release(p)).toThrow(/only the instance from RingBuffer.create/);
  });

  it('waitForPublished returns at once when the count already moved, times out otherwise, and refuses on the producer', () => {
    const ring = RingBuffer.create(CAP);
    const reader = RingBuffer.attach(ring.buffer);
    expect(() => ring.waitForPublished(0, 0)).toThrow(/would block/);
    expect(reader.waitForPublished(0, 0)).toBe(0);
    ring.publish(ring.reserve(1));
    expect(reader.waitForPublished(0, 10_000)).toBe(1);
    expect(new Int32Array(ring.buffer)[RING_LAYOUT.CTL_WAITERS]).toBe(0);
  });
});
