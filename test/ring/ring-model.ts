/**
 * The reference the property tests compare RingBuffer against: the same placement
 * rules written as plainly as possible, with unbounded integer positions, `%` instead
 * of masks, and an array of records instead of headers in shared memory.
 */

const HEADER = 16;
const ALIGN = 16;
const POSITION_SPACE = 2 ** 31;

export type ModelState = 'reserved' | 'published' | 'released' | 'pad';

export interface ModelRecord {
  /** Unbounded byte counter; the ring's handle is this modulo 2^31. */
  readonly at: number;
  readonly handle: number;
  /** Where the record header starts in the data area. */
  readonly offset: number;
  readonly length: number;
  readonly size: number;
  state: ModelState;
  /** Payload bytes written so far (in order, chunk by chunk). */
  written: number;
  /** Distinguishes each record's byte pattern. */
  readonly serial: number;
}

export class RingModel {
  head: number;
  tail: number;
  /** Records and pads from tail to head, oldest first. */
  readonly records: ModelRecord[] = [];
  wraps = 0;
  fulls = 0;
  private serials = 0;

  constructor(
    readonly capacity: number,
    start: number,
  ) {
    this.head = start;
    this.tail = start;
  }

  get maxRecordBytes(): number {
    return this.capacity / 2 - HEADER;
  }

  used(): number {
    return this.head - this.tail;
  }

  live(): ModelRecord[] {
    return this.records.filter((r) => r.state === 'reserved' || r.state === 'published');
  }

  /** Returns the new record, or null where the ring must answer -1. */
  reserve(length: number): ModelRecord | null {
    if (length > this.maxRecordBytes) return null;
    const size = Math.ceil((HEADER + length) / ALIGN) * ALIGN;
    const spaceToEnd = this.capacity - (this.head % this.capacity);
    if (size > spaceToEnd) {
      if (this.used() + spaceToEnd + size > this.capacity) {
        this.fulls++;
        return null;
      }
      if (this.used() === 0) {
        this.tail += spaceToEnd;
      } else {
        this.records.push(this.record(this.head, spaceToEnd - HEADER, spaceToEnd, 'pad'));
      }
      this.head += spaceToEnd;
      this.wraps++;
    } else if (this.used() + size > this.capacity) {
      this.fulls++;
      return null;
    }
    const rec = this.record(this.head, length, size, 'reserved');
    this.records.push(rec);
    this.head += size;
    return rec;
  }

  release(rec: ModelRecord): void {
    rec.state = 'released';
    while (this.records.length > 0) {
      const first = this.records[0] as ModelRecord;
      if (first.state !== 'released' && first.state !== 'pad') break;
      this.tail += first.size;
      this.records.shift();
    }
  }

  private record(at: number, length: number, size: number, state: ModelState): ModelRecord {
    return {
      at,
      handle: at % POSITION_SPACE,
      offset: at % this.capacity,
      length,
      size,
      state,
      written: 0,
      serial: this.serials++,
    };
  }
}

/** The byte at `index` of the record numbered `serial`: differs between neighbours and between records, so shifts and swaps show. */
export function expectedByte(serial: number, index: number): number {
  return (serial * 131 + index * 7 + (index >>> 8) * 13 + 1) & 0xff;
}
