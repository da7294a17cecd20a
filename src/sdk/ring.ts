/**
 * The SDK's bounded queue of pending events. When full, a push overwrites the oldest
 * entry and reports it, so the producer never blocks and never grows memory: the
 * newest telemetry is the most useful, and every overwrite is counted by the caller.
 *
 * Storage is a power-of-two array indexed with a mask (no modulo, no shifting of
 * elements); the logical capacity is exactly what was asked for.
 */
export class DropOldestRing<T> {
  private readonly slots: (T | undefined)[];
  private readonly mask: number;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 2 ** 30) throw new RangeError(`ring capacity must be an integer in [1, 2^30], got ${capacity}`);
    let size = 1;
    while (size < capacity) size <<= 1;
    this.slots = new Array<T | undefined>(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Appends `item`; returns true when the oldest entry was overwritten to make room. */
  push(item: T): boolean {
    if (this.count === this.capacity) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) & this.mask;
      this.slots[(this.head + this.count - 1) & this.mask] = item;
      return true;
    }
    this.slots[(this.head + this.count) & this.mask] = item;
    this.count++;
    return false;
  }

  /** Removes and returns up to `max` of the oldest entries, oldest first. */
  take(max: number): T[] {
    const n = Math.min(max, this.count);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      const slot = this.head;
      out[i] = this.slots[slot] as T;
      this.slots[slot] = undefined; // release the reference for the GC
      this.head = (slot + 1) & this.mask;
    }
    this.count -= n;
    return out;
  }
}
