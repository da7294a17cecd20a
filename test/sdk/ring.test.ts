import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropOldestRing } from '../../src/sdk/ring.js';

describe('DropOldestRing', () => {
  it('keeps the newest `capacity` items and reports each overwrite', () => {
    const ring = new DropOldestRing<number>(3);
    const dropped = [1, 2, 3, 4, 5].map((n) => ring.push(n));
    expect(dropped).toEqual([false, false, false, true, true]);
    expect(ring.size).toBe(3);
    expect(ring.take(10)).toEqual([3, 4, 5]);
    expect(ring.size).toBe(0);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new DropOldestRing(0)).toThrow(RangeError);
    expect(() => new DropOldestRing(1.5)).toThrow(RangeError);
  });

  it('behaves like a bounded array model under any mix of pushes and takes', () => {
    const op = fc.oneof(fc.record({ push: fc.integer() }), fc.record({ take: fc.integer({ min: 0, max: 8 }) }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const ring = new DropOldestRing<number>(capacity);
        const model: number[] = [];
        let drops = 0;
        let modelDrops = 0;
        for (const o of ops) {
          if ('push' in o) {
            if (ring.push(o.push)) drops++;
            model.push(o.push);
            if (model.length > capacity) {
              model.shift();
              modelDrops++;
            }
          } else {
            expect(ring.take(o.take)).toEqual(model.splice(0, o.take));
          }
          expect(ring.size).toBe(model.length);
        }
        expect(drops).toBe(modelDrops);
        expect(ring.take(capacity)).toEqual(model);
      }),
    );
  });
});
