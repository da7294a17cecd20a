/**
 * The byte layout of the ring's SharedArrayBuffer: the one place that says which word
 * means what. Workers that cannot import TypeScript (plain .mjs, other runtimes)
 * receive `RING_LAYOUT` as data and read the same offsets.
 *
 *   [0, CONTROL_BYTES)                    control block, Int32 words (CTL_*)
 *   [CONTROL_BYTES, CONTROL_BYTES + cap)  data area: records back to back
 *
 * A record is a RECORD_HEADER_BYTES header (REC_* words) followed by its payload,
 * padded so the next record starts on a RECORD_ALIGN boundary. Records never wrap:
 * when the end of the data area is too short, a PAD record fills it and the next
 * record starts at offset 0.
 */

/** Bytes before the data area. A cache line, so the data area starts 64-aligned. */
export const CONTROL_BYTES = 64;

// Control block, as Int32Array indexes from the start of the buffer.
/** RING_MAGIC: lets attach() refuse a buffer that was not made by RingBuffer.create. */
export const CTL_MAGIC = 0;
/** Data-area size in bytes, so a worker needs nothing but the buffer. */
export const CTL_CAPACITY = 1;
/** Producer cursor: position where the next reservation starts. Written by the main thread only. */
export const CTL_HEAD = 2;
/** Reclaim cursor: position of the oldest record not yet released. Written by the main thread only. */
export const CTL_TAIL = 3;
/** Count of publish() calls, modulo 2^32. Workers Atomics.wait on it. */
export const CTL_PUBLISHED = 4;
/** Workers currently inside waitForPublished(); publish() skips Atomics.notify while it is 0. */
export const CTL_WAITERS = 5;

/** "RNG1" in ASCII; bump the digit when this layout changes. */
export const RING_MAGIC = 0x524e4731;

// Record header, as Int32 offsets from the record's first word.
/** Payload length in bytes (for a PAD record: the bytes it covers after its header). */
export const REC_LENGTH = 0;
/** One of the STATE_* values. Read with Atomics.load on worker side: that load is the acquire. */
export const REC_STATE = 1;
/** The position handle this record was reserved at; catches stale or made-up handles. */
export const REC_POSITION = 2;
/** Unused; keeps the header 16 bytes so the payload stays 8-aligned. */
export const REC_SPARE = 3;

export const RECORD_HEADER_BYTES = 16;
/** Record starts are multiples of 16, so a PAD header always fits in the leftover at the end. */
export const RECORD_ALIGN = 16;

export const STATE_RESERVED = 1;
export const STATE_PUBLISHED = 2;
export const STATE_RELEASED = 3;
export const STATE_PAD = 4;

/**
 * Positions are byte counters modulo 2^31. That keeps every handle a non-negative
 * int32 (a V8 small integer: no heap number per request) while a live span, at most
 * the capacity (<= 2^30), can never be mistaken across the wrap.
 */
export const POSITION_MASK = 0x7fffffff;

export const MIN_CAPACITY = 64 * 1024;
/** Largest capacity for which the 31-bit position arithmetic above stays unambiguous. */
export const MAX_CAPACITY = 1024 * 1024 * 1024;

/** Everything a non-TypeScript reader needs, as a plain object that survives structured clone. */
export const RING_LAYOUT = Object.freeze({
  CONTROL_BYTES,
  CTL_MAGIC,
  CTL_CAPACITY,
  CTL_HEAD,
  CTL_TAIL,
  CTL_PUBLISHED,
  CTL_WAITERS,
  RING_MAGIC,
  REC_LENGTH,
  REC_STATE,
  REC_POSITION,
  RECORD_HEADER_BYTES,
  RECORD_ALIGN,
  STATE_RESERVED,
  STATE_PUBLISHED,
  STATE_RELEASED,
  STATE_PAD,
  POSITION_MASK,
});
export type RingLayout = typeof RING_LAYOUT;
