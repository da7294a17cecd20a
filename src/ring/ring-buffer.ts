import {
  CONTROL_BYTES,
  CTL_CAPACITY,
  CTL_HEAD,
  CTL_MAGIC,
  CTL_PUBLISHED,
  CTL_TAIL,
  CTL_WAITERS,
  MAX_CAPACITY,
  MIN_CAPACITY,
  POSITION_MASK,
  REC_LENGTH,
  REC_POSITION,
  REC_STATE,
  RECORD_ALIGN,
  RECORD_HEADER_BYTES,
  RING_MAGIC,
  STATE_PAD,
  STATE_PUBLISHED,
  STATE_RELEASED,
  STATE_RESERVED,
} from './layout.js';

const CONTROL_WORDS = CONTROL_BYTES >> 2;
const ALIGN_MASK = RECORD_ALIGN - 1;
/** A well-formed handle: a 31-bit position on a record boundary. One AND checks both. */
const HANDLE_MASK = POSITION_MASK & ~ALIGN_MASK;

/**
 * A single-producer ring of variable-length records in one SharedArrayBuffer.
 *
 * The main thread reserves, writes, publishes and releases; workers attach to the same
 * memory and read published payloads by position. All bookkeeping (head, tail, the
 * out-of-order release marks) is done by the main thread, so the only cross-thread
 * synchronisation is the record's state word and the published counter.
 *
 * Positions are byte counters modulo 2^31 (see POSITION_MASK): compare them only
 * for equality and subtract them with `& POSITION_MASK`.
 */
export class RingBuffer {
  /** Control block + data area: the one thing passed to workers. */
  readonly buffer: SharedArrayBuffer;
  /** Data bytes. */
  readonly capacity: number;
  /**
   * Largest payload reserve() can ever accept: half the capacity minus a header. Any
   * record that size fits in an empty ring wherever the head stands (either the stretch
   * to the end or the stretch from 0 is at least half), so a body under this limit is
   * only ever refused for being early, never forever.
   */
  readonly maxRecordBytes: number;
  /** The whole data area. With payloadOffset()/payloadLength() it reads or writes a payload without allocating a view. */
  readonly bytes: Uint8Array;

  private readonly words: Int32Array;
  private readonly mask: number;
  /** Only the instance from create() may move the cursors: they are plain, single-writer words. */
  private readonly producer: boolean;

  private constructor(buffer: SharedArrayBuffer, capacity: number, producer: boolean) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.maxRecordBytes = capacity / 2 - RECORD_HEADER_BYTES;
    this.bytes = new Uint8Array(buffer, CONTROL_BYTES, capacity);
    this.words = new Int32Array(buffer);
    this.mask = capacity - 1;
    this.producer = producer;
  }

  /** Main thread. capacityBytes must be a power of two from 64 KiB to 1 GiB. */
  static create(capacityBytes: number): RingBuffer {
    checkCapacity(capacityBytes, 'capacityBytes');
    const ring = new RingBuffer(new SharedArrayBuffer(CONTROL_BYTES + capacityBytes), capacityBytes, true);
    ring.words[CTL_CAPACITY] = capacityBytes;
    // Magic last: an attach() racing with create() then sees either nothing or a complete header.
    Atomics.store(ring.words, CTL_MAGIC, RING_MAGIC);
    return ring;
  }

  /** Worker side: a read-only view of a ring made by create(), from `ring.buffer` sent through workerData. */
  static attach(buffer: SharedArrayBuffer): RingBuffer {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < CONTROL_BYTES) {
      throw new TypeError('RingBuffer.attach: expected the SharedArrayBuffer of a RingBuffer');
    }
    const words = new Int32Array(buffer, 0, CONTROL_WORDS);
    if (Atomics.load(words, CTL_MAGIC) !== RING_MAGIC) {
      throw new TypeError('RingBuffer.attach: buffer has no ring header (wrong buffer or layout version)');
    }
    const capacity = words[CTL_CAPACITY] as number;
    checkCapacity(capacity, 'stored capacity');
    if (buffer.byteLength !== CONTROL_BYTES + capacity) {
      throw new TypeError(`RingBuffer.attach: buffer is ${buffer.byteLength} bytes, header says ${CONTROL_BYTES + capacity}`);
    }
    return new RingBuffer(buffer, capacity, false);
  }

  /**
   * PRODUCER. Reserves a contiguous record for `length` payload bytes and returns its
   * position, or -1 when there is no room now (answer 429) or `length` exceeds
   * maxRecordBytes (check that first and answer 413: it will never fit).
   */
  reserve(length: number): number {
    if (!this.producer) throw notProducer('reserve');
    if ((length | 0) !== length || length < 0) {
      // Integers past int32 are just too big (a 413 for the caller), not a bug.
      if (Number.isInteger(length) && length > 0) return -1;
      throw new RangeError(`RingBuffer.reserve: length must be a non-negative integer, got ${length}`);
    }
    if (length > this.maxRecordBytes) return -1;

    const words = this.words;
    const capacity = this.capacity;
    const stride = (RECORD_HEADER_BYTES + length + ALIGN_MASK) & ~ALIGN_MASK;
    let head = words[CTL_HEAD] as number;
    const tail = words[CTL_TAIL] as number;
    const used = (head - tail) & POSITION_MASK;
    let offset = head & this.mask;
    const toEnd = capacity - offset;

    if (stride > toEnd) {
      // Records never wrap, so a reader gets one contiguous view: fill the rest of the
      // data area with a PAD record and start at 0.
      if (used + toEnd + stride > capacity) return -1;
      if (used === 0) {
        // Empty ring: nothing can be behind the pad, so the tail skips it at once
        // rather than counting it as used until the next release.
        words[CTL_TAIL] = (head + toEnd) & POSITION_MASK;
      } else {
        const p = CONTROL_WORDS + (offset >> 2);
        words[p + REC_LENGTH] = toEnd - RECORD_HEADER_BYTES;
        words[p + REC_STATE] = STATE_PAD;
        words[p + REC_POSITION] = head;
      }
      head = (head + toEnd) & POSITION_MASK;
      offset = 0;
    } else if (used + stride > capacity) {
      return -1;
    }

    const w = CONTROL_WORDS + (offset >> 2);
    words[w + REC_LENGTH] = length;
    // Plain store: no other thread may look at this record until publish().
    words[w + REC_STATE] = STATE_RESERVED;
    words[w + REC_POSITION] = head;
    words[CTL_HEAD] = (head + stride) & POSITION_MASK;
    return head;
  }

  /** A view (no copy) of the record's payload: writable by the producer, readable by workers once published. */
  payload(position: number): Uint8Array {
    const w = this.recordWord(position, 'payload');
    return new Uint8Array(this.buffer, CONTROL_BYTES + (position & this.mask) + RECORD_HEADER_BYTES, this.words[w + REC_LENGTH] as number);
  }

  /** Index in `bytes` where the record's payload starts. Pure arithmetic: pair it with payloadLength(), which validates. */
  payloadOffset(position: number): number {
    return (position & this.mask) + RECORD_HEADER_BYTES;
  }

  /** The record's payload length, from its header in shared memory. */
  payloadLength(position: number): number {
    return this.words[this.recordWord(position, 'payloadLength') + REC_LENGTH] as number;
  }

  /**
   * PRODUCER. The payload is complete: make it visible to other threads. The
   * Atomics.store of the state is the release that a worker's Atomics.load pairs with.
   */
  publish(position: number): void {
    const words = this.words;
    const w = this.recordWord(position, 'publish');
    if (words[w + REC_STATE] !== STATE_RESERVED) {
      throw new Error(`RingBuffer.publish: record at ${position} is ${stateName(words[w + REC_STATE])}, not reserved`);
    }
    Atomics.store(words, w + REC_STATE, STATE_PUBLISHED);
    Atomics.add(words, CTL_PUBLISHED, 1);
    // notify takes a process-wide lock in V8; most of the time nobody waits (positions
    // travel by postMessage), so skip it then. Safe because both counters are seq-cst:
    // a waiter that registers after our load sees the new count inside Atomics.wait.
    if (Atomics.load(words, CTL_WAITERS) !== 0) Atomics.notify(words, CTL_PUBLISHED);
  }

  /**
   * PRODUCER. The record is no longer needed (answered, or aborted before publish).
   * Space comes back strictly in reservation order: the tail advances over every
   * leading released record, so each record is stepped over once (O(1) amortised).
   */
  release(position: number): void {
    const words = this.words;
    const w = this.recordWord(position, 'release');
    const state = words[w + REC_STATE];
    if (state !== STATE_RESERVED && state !== STATE_PUBLISHED) {
      throw new Error(`RingBuffer.release: record at ${position} is ${stateName(state)}`);
    }
    words[w + REC_STATE] = STATE_RELEASED;

    // Walk from the tail, not only when `position` is the tail: a PAD left in front of
    // the oldest record must be stepped over too.
    const mask = this.mask;
    const head = words[CTL_HEAD] as number;
    let tail = words[CTL_TAIL] as number;
    while (tail !== head) {
      const t = CONTROL_WORDS + ((tail & mask) >> 2);
      const s = words[t + REC_STATE];
      if (s !== STATE_RELEASED && s !== STATE_PAD) break;
      tail = (tail + ((RECORD_HEADER_BYTES + (words[t + REC_LENGTH] as number) + ALIGN_MASK) & ~ALIGN_MASK)) & POSITION_MASK;
    }
    words[CTL_TAIL] = tail;
  }

  /** Bytes between tail and head: live records, released ones not yet reclaimed, headers and padding. */
  usedBytes(): number {
    return ((this.words[CTL_HEAD] as number) - (this.words[CTL_TAIL] as number)) & POSITION_MASK;
  }

  /** How many records have been published, modulo 2^32 (an int32 that wraps): compare with !==. */
  publishedSequence(): number {
    return Atomics.load(this.words, CTL_PUBLISHED);
  }

  /**
   * WORKERS ONLY. Blocks until the published count differs from `seen` or the timeout
   * passes, then returns the current count. The main thread must never block, so the
   * producer instance refuses.
   */
  waitForPublished(seen: number, timeoutMs: number): number {
    if (this.producer) throw new Error('RingBuffer.waitForPublished: would block the producer (main) thread');
    const words = this.words;
    Atomics.add(words, CTL_WAITERS, 1);
    try {
      Atomics.wait(words, CTL_PUBLISHED, seen, timeoutMs);
    } finally {
      Atomics.sub(words, CTL_WAITERS, 1);
    }
    return Atomics.load(words, CTL_PUBLISHED);
  }

  /**
   * Validates a handle and returns the Int32 index of its record header. The producer
   * also checks the position lies between tail and head (stale handles); a worker
   * cannot, as it does not own the cursors, so it requires the PUBLISHED state instead,
   * read with Atomics.load: that load is what makes the payload bytes visible to it.
   */
  private recordWord(position: number, op: string): number {
    if ((position & HANDLE_MASK) !== position) {
      throw new RangeError(`RingBuffer.${op}: ${position} is not a record position`);
    }
    const words = this.words;
    const w = CONTROL_WORDS + ((position & this.mask) >> 2);
    if (this.producer) {
      const tail = words[CTL_TAIL] as number;
      if (((position - tail) & POSITION_MASK) >= (((words[CTL_HEAD] as number) - tail) & POSITION_MASK) || words[w + REC_POSITION] !== position) {
        throw new RangeError(`RingBuffer.${op}: no live record at position ${position}`);
      }
      const state = words[w + REC_STATE];
      // RELEASED passes for release() to report it as a double release.
      if (state === STATE_PAD || (state === STATE_RELEASED && op !== 'release')) {
        throw new RangeError(`RingBuffer.${op}: no live record at position ${position} (${stateName(state)})`);
      }
    } else {
      if (op === 'publish' || op === 'release') throw notProducer(op);
      const state = Atomics.load(words, w + REC_STATE);
      if (state !== STATE_PUBLISHED || words[w + REC_POSITION] !== position) {
        throw new RangeError(`RingBuffer.${op}: no published record at position ${position} (${stateName(state)})`);
      }
    }
    return w;
  }
}

function checkCapacity(bytes: number, what: string): void {
  // A power of two so offsets are `position & (capacity - 1)`; the bounds keep records
  // useful (>= 32 KiB each) and the 31-bit positions unambiguous.
  if (!Number.isInteger(bytes) || bytes < MIN_CAPACITY || bytes > MAX_CAPACITY || (bytes & (bytes - 1)) !== 0) {
    throw new RangeError(`RingBuffer: ${what} must be a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY}, got ${bytes}`);
  }
}

function notProducer(op: string): Error {
  return new Error(`RingBuffer.${op}: only the instance from RingBuffer.create() (the main thread) may call this`);
}

function stateName(state: number | undefined): string {
  switch (state) {
    case STATE_RESERVED:
      return 'reserved';
    case STATE_PUBLISHED:
      return 'published';
    case STATE_RELEASED:
      return 'already released';
    case STATE_PAD:
      return 'padding';
    default:
      return `in unknown state ${state}`;
  }
}
