import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECORD_HEADER_BYTES, type RingBuffer } from '../../src/ring/index.js';
import { ringAtPosition } from './fixtures/ring-at-position.js';
import { expectedByte, type ModelRecord, RingModel } from './ring-model.js';

const KiB = 1024;
const POSITION_SPACE = 2 ** 31;

type Op =
  | { kind: 'reserve'; length: number }
  | { kind: 'write'; pick: number; chunk: number; viaBytes: boolean }
  | { kind: 'publish'; pick: number }
  | { kind: 'release'; pick: number };

/** Sizes a receiver sees, plus the edges: empty, one byte, odd, just under and just over the limit. */
function lengthArb(capacity: number): fc.Arbitrary<number> {
  const max = capacity / 2 - RECORD_HEADER_BYTES;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 15, 16, 17) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 4 * KiB }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max }) },
    { weight: 1, arbitrary: fc.integer({ min: max - 40, max }) },
    { weight: 1, arbitrary: fc.integer({ min: max + 1, max: max + 100 }) },
  );
}

function opArb(capacity: number): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 3, arbitrary: lengthArb(capacity).map((length): Op => ({ kind: 'reserve', length })) },
    {
      weight: 5,
      arbitrary: fc
        .record({
          pick: fc.nat(),
          // Network chunks: tiny, typical, or the whole rest of the body.
          chunk: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 4 * KiB }), fc.constant(Number.MAX_SAFE_INTEGER)),
          viaBytes: fc.boolean(),
        })
        .map((r): Op => ({ kind: 'write', ...r })),
    },
    { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ kind: 'publish', pick })) },
    { weight: 3, arbitrary: fc.nat().map((pick): Op => ({ kind: 'release', pick })) },
  );
}

/** Any record boundary in the 31-bit position space, with extra weight just below the 2^31 wrap. */
const startArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: POSITION_SPACE / 16 - 1 }).map((k) => k * 16),
  fc.integer({ min: 1, max: 8 * KiB }).map((k) => POSITION_SPACE - k * 16),
);

const scenarioArb = fc
  .tuple(fc.constantFrom(64 * KiB, 128 * KiB), startArb)
  .chain(([capacity, start]) =>
    fc.record({
      capacity: fc.constant(capacity),
      start: fc.constant(start),
      ops: fc.array(opArb(capacity), { minLength: 1, maxLength: 400, size: 'max' }),
      finalOrder: fc.array(fc.nat(), { maxLength: 64 }),
    }),
  );

function pick<T>(items: readonly T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

/** The record's bytes written so far must read back exactly, through both views. */
function checkContent(ring: RingBuffer, rec: ModelRecord): void {
  const view = ring.payload(rec.handle);
  expect(view.byteLength).toBe(rec.length);
  const start = ring.payloadOffset(rec.handle);
  for (let i = 0; i < rec.written; i++) {
    const want = expectedByte(rec.serial, i);
    if (view[i] !== want || ring.bytes[start + i] !== want) {
      expect.fail(`record #${rec.serial} at ${rec.handle}: byte ${i} is ${view[i]}, wrote ${want}`);
    }
  }
}

/** Live records are contiguous, inside the data area, and disjoint (headers included). */
function checkLayout(ring: RingBuffer, model: RingModel): void {
  const spans = model
    .live()
    .map((r) => {
      const payloadStart = ring.payloadOffset(r.handle);
      return { start: payloadStart - RECORD_HEADER_BYTES, end: payloadStart + ring.payloadLength(r.handle) };
    })
    .sort((a, b) => a.start - b.start);
  let previousEnd = 0;
  for (const span of spans) {
    expect(span.start).toBeGreaterThanOrEqual(previousEnd);
    expect(span.end).toBeLessThanOrEqual(ring.capacity);
    previousEnd = span.end;
  }
}

function writeChunk(ring: RingBuffer, rec: ModelRecord, chunk: number, viaBytes: boolean): void {
  const n = Math.min(chunk, rec.length - rec.written);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = expectedByte(rec.serial, rec.written + i);
  if (viaBytes) ring.bytes.set(data, ring.payloadOffset(rec.handle) + rec.written);
  else ring.payload(rec.handle).set(data, rec.written);
  rec.written += n;
}

describe('RingBuffer against a model', () => {
  it('keeps every byte of interleaved, out-of-order request bodies, wraps, fills and drains', () => {
    const seen = { wraps: 0, fulls: 0, positionWraps: 0, outOfOrder: 0, aborted: 0, published: 0 };

    fc.assert(
      fc.property(scenarioArb, ({ capacity, start, ops, finalOrder }) => {
        const ring = ringAtPosition(capacity, start);
        const model = new RingModel(capacity, start);
        expect(ring.maxRecordBytes).toBe(model.maxRecordBytes);

        ops.forEach((op, step) => {
          switch (op.kind) {
            case 'reserve': {
              const got = ring.reserve(op.length);
              const rec = model.reserve(op.length);
              if (rec === null) {
                expect(got).toBe(-1);
              } else {
                expect(got).toBe(rec.handle);
                expect(ring.payloadLength(got)).toBe(op.length);
                expect(ring.payloadOffset(got)).toBe(rec.offset + RECORD_HEADER_BYTES);
                if (rec.at >= POSITION_SPACE && rec.at - rec.size < POSITION_SPACE) seen.positionWraps++;
              }
              break;
            }
            case 'write': {
              const rec = pick(
                model.live().filter((r) => r.state === 'reserved' && r.written < r.length),
                op.pick,
              );
              if (rec !== undefined) writeChunk(ring, rec, op.chunk, op.viaBytes);
              break;
            }
            case 'publish': {
              const rec = pick(
                model.live().filter((r) => r.state === 'reserved' && r.written === r.length),
                op.pick,
              );
              if (rec === undefined) break;
              ring.publish(rec.handle);
              rec.state = 'published';
              seen.published++;
              checkContent(ring, rec);
              break;
            }
            case 'release': {
              const live = model.live();
              const rec = pick(live, op.pick);
              if (rec === undefined) break;
              checkContent(ring, rec);
              if (rec !== live[0]) seen.outOfOrder++;
              if (rec.state === 'reserved') seen.aborted++;
              ring.release(rec.handle);
              model.release(rec);
              expect(() => ring.release(rec.handle)).toThrow();
              break;
            }
          }
          expect(ring.usedBytes()).toBe(model.used());
          if (step % 16 === 15) {
            checkLayout(ring, model);
            for (const rec of model.live()) checkContent(ring, rec);
          }
        });

        checkLayout(ring, model);
        // Drain in an arbitrary order: nothing is lost, and the ring ends empty.
        for (const n of [...finalOrder, ...model.live().map((_, i) => i)]) {
          const rec = pick(model.live(), n);
          if (rec === undefined) break;
          checkContent(ring, rec);
          ring.release(rec.handle);
          model.release(rec);
          expect(ring.usedBytes()).toBe(model.used());
        }
        expect(model.live()).toEqual([]);
        expect(ring.usedBytes()).toBe(0);

        // Recovered: the largest record fits again.
        const big = ring.reserve(ring.maxRecordBytes);
        expect(big).not.toBe(-1);
        ring.release(big);
        expect(ring.usedBytes()).toBe(0);

        seen.wraps += model.wraps;
        seen.fulls += model.fulls;
      }),
      { numRuns: 300 },
    );

    // The generators must actually reach the interesting states, or the property proves little.
    // Thresholds sit well below what 300 runs typically reach (~800 wraps, ~900 fulls,
    // ~150 crossings of 2^31, thousands of out-of-order and aborted releases).
    expect(seen.wraps).toBeGreaterThan(200);
    expect(seen.fulls).toBeGreaterThan(200);
    expect(seen.positionWraps).toBeGreaterThan(20);
    expect(seen.outOfOrder).toBeGreaterThan(1000);
    expect(seen.aborted).toBeGreaterThan(1000);
    expect(seen.published).toBeGreaterThan(1000);
    // 300 runs take a few seconds alone and about 40 s on a saturated 2-core machine.
  }, 120_000);

  it('accepts any length up to maxRecordBytes on an empty ring, wherever the head stands', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(64 * KiB, 256 * KiB),
        fc.integer({ min: 0, max: POSITION_SPACE / 16 - 1 }),
        fc.nat(),
        (capacity, k, lengthSeed) => {
          const ring = ringAtPosition(capacity, k * 16);
          const length = lengthSeed % (ring.maxRecordBytes + 1);
          const p = ring.reserve(length);
          expect(p).not.toBe(-1);
          expect(ring.payloadOffset(p) + length).toBeLessThanOrEqual(capacity);
          ring.release(p);
          expect(ring.usedBytes()).toBe(0);
          expect(ring.reserve(ring.maxRecordBytes + 1)).toBe(-1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
