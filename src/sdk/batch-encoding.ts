import { Packr } from 'msgpackr';
import type { CloudEvent, WireInt64 } from './cloudevents.js';

/**
 * The two batch media types of docs/protocol.md §2, and how each writes an int64.
 *
 * JSON has no integer type: values within ±(2^53 − 1) are written as numbers and larger
 * ones as decimal strings, both of which §2 allows. MessagePack has real 64-bit integers,
 * but msgpackr writes a JS number above 2^32 as a float64, so any int64 outside the 32-bit
 * range is handed to it as a bigint, which it writes as int64 (0xd3).
 */
export type BodyEncoding = 'json' | 'msgpack';

export interface BatchEncoder {
  readonly contentType: string;
  /** The representation of an int64 inside a CloudEvent's `data` for this encoding. */
  int64(value: bigint): WireInt64;
  encode(events: readonly CloudEvent[]): Uint8Array;
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const SAFE_MIN = -SAFE_MAX;
const UINT32_MAX = 0xffff_ffffn;
const INT32_MIN = -0x8000_0000n;

const utf8 = new TextEncoder();

const jsonEncoder: BatchEncoder = {
  contentType: 'application/cloudevents-batch+json',
  int64: (v) => (v <= SAFE_MAX && v >= SAFE_MIN ? Number(v) : v.toString()),
  encode: (events) => utf8.encode(JSON.stringify(events)),
};

// useRecords: false keeps the output plain MessagePack maps, which any decoder reads;
// msgpackr's record extension would only be understood by another msgpackr.
const packr = new Packr({ useRecords: false });

const msgpackEncoder: BatchEncoder = {
  contentType: 'application/cloudevents-batch+msgpack',
  int64: (v) => (v <= UINT32_MAX && v >= INT32_MIN ? Number(v) : v),
  // msgpackr may reuse its internal buffer on the next pack(); a batch body outlives
  // that (it is gzipped, signed, retried), so keep a private copy.
  encode: (events) => packr.pack(events).slice(),
};

export function batchEncoder(encoding: BodyEncoding): BatchEncoder {
  return encoding === 'msgpack' ? msgpackEncoder : jsonEncoder;
}
