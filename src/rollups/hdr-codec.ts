import { inflateSync } from 'node:zlib';
import { decodeFromCompressedBase64, type JsHistogram } from 'hdr-histogram-js';

/**
 * HdrHistogram's "V2 compressed" base64 form (the `HISTF…` strings every HdrHistogram
 * library reads: Java, C, Go, Rust, Python), written and read without the library's path.
 *
 * Why our own: hdr-histogram-js encodes through zlib.deflateSync and decodes through a
 * throw-away histogram. A new native zlib stream per call costs ≈140 µs and ≈256 KiB of
 * garbage, more than the whole rest of a flush; the payload is already compact (counts as
 * ZigZag LEB128 with runs of zeros collapsed) and deflate gains little on it. So the payload
 * goes into *stored* deflate blocks (RFC 1951 §3.2.4, which every inflater accepts) with its
 * Adler-32: the standard format, ≈10× cheaper. Reading takes that stored form without zlib
 * and anything else (the library's real deflate, other producers) through inflateSync.
 *
 * Layout (big-endian), as HdrHistogram's encodeIntoCompressedByteBuffer writes it:
 *   int32 0x1c849314 (V2 compressed cookie), int32 length of the zlib stream, zlib stream of:
 *     int32 0x1c849313 (V2 cookie), int32 payload length, int32 normalizing index offset (0),
 *     int32 significant digits, int64 lowest discernible value, int64 highest trackable value,
 *     float64 integer-to-double ratio (1.0), payload: one ZigZag LEB128 per count, a negative
 *     number n standing for -n zero counts.
 */

const V2_COOKIE_BASE = 0x1c849303;
const V2_COMPRESSED_COOKIE_BASE = 0x1c849304;
/** The low nibble's 0x10 marks the ZigZag LEB128 ("TLZE") word size, as the reference encoders write it. */
const V2_COOKIE = V2_COOKIE_BASE | 0x10;
const V2_COMPRESSED_COOKIE = V2_COMPRESSED_COOKIE_BASE | 0x10;
const HEADER_BYTES = 40;
const MAX_LEB128_BYTES = 9;
const STORED_BLOCK_MAX = 65_535;
/** No latency histogram of ours reaches this (139 years in ms); a decoded index that does is not one of ours. */
const MAX_DECODED_VALUE = 2 ** 42;

/**
 * Encodes `h`. `onBucket`, if given, sees every non-empty bucket in order (index, count):
 * callers that also want percentiles or buckets get them from the same pass over the counts.
 */
export function encodeCompressedBase64(h: JsHistogram, onBucket?: (index: number, count: number) => void): string {
  const payloadLength = encodeV2(h, onBucket);
  const zlibLength = zlibStored(payloadLength);
  const out = outputScratch;
  out.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
  out.writeInt32BE(zlibLength, 4);
  return out.toString('base64', 0, 8 + zlibLength);
}

/*
 * Scratch buffers reused by every encoding (encoding is synchronous, so one set is enough):
 * a fresh buffer of up to 128 KiB per histogram was a large share of a flush's garbage.
 * They grow to the largest histogram seen and stay there.
 */
let payloadScratch = Buffer.alloc(64 * 1024);
let outputScratch = Buffer.alloc(64 * 1024);

function ensureScratch(payloadBytes: number): void {
  if (payloadScratch.length < payloadBytes) payloadScratch = Buffer.alloc(payloadBytes);
  // 8-byte outer header, 2-byte zlib header, 5 bytes per stored block, 4-byte checksum.
  const outputBytes = 8 + 2 + Math.ceil(payloadBytes / STORED_BLOCK_MAX + 1) * 5 + payloadBytes + 4;
  if (outputScratch.length < outputBytes) outputScratch = Buffer.alloc(outputBytes);
}

/**
 * The non-zero counts of the last encoding read by readCounts, ascending by index: reused
 * by every read (decoding is synchronous), grown to the largest histogram seen.
 */
export const decodedCounts = { indices: [] as number[], counts: [] as number[], length: 0 };

/**
 * Reads the non-zero counts of an encoded histogram into `decodedCounts`, if the encoding
 * has `layout`'s precision settings (then index i means the same values in both,
 * whatever their highest trackable values) and returns true; returns false, reading
 * nothing, for other settings. Throws on anything that is not a V2 histogram.
 */
export function readCounts(encoded: string, layout: JsHistogram): boolean {
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length < 8 || (bytes.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE) throw new Error('not an HdrHistogram V2 compressed encoding');
  const length = bytes.readInt32BE(4);
  if (length < 0 || 8 + length > bytes.length) throw new Error('truncated HdrHistogram encoding');
  const zlib = bytes.subarray(8, 8 + length);
  const raw = storedPayload(zlib) ?? inflateSync(zlib);
  if (raw.length < HEADER_BYTES || (raw.readInt32BE(0) & ~0xf0) !== V2_COOKIE_BASE) throw new Error('not an HdrHistogram V2 encoding');
  const payloadLength = raw.readInt32BE(4);
  const digits = raw.readInt32BE(12);
  const lowest = Number(raw.readBigInt64BE(16));
  if (payloadLength < 0 || HEADER_BYTES + payloadLength > raw.length) throw new Error('truncated HdrHistogram payload');
  if (digits !== layout.numberOfSignificantValueDigits || lowest !== layout.lowestDiscernibleValue) return false;
  const out = decodedCounts;
  out.length = 0;
  const end = HEADER_BYTES + payloadLength;
  let pos = HEADER_BYTES;
  let index = 0;
  while (pos < end) {
    let shift = 1;
    let z = 0;
    for (let i = 0; ; i++) {
      if (pos >= end || i >= MAX_LEB128_BYTES) throw new Error('malformed HdrHistogram count');
      const b = raw[pos++] as number;
      z += (i === MAX_LEB128_BYTES - 1 ? b : b & 0x7f) * shift;
      if (i === MAX_LEB128_BYTES - 1 || (b & 0x80) === 0) break;
      shift *= 128;
    }
    const n = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    if (n < 0) {
      index -= n;
      continue;
    }
    if (n > 0) {
      if (layout.valueFromIndex(index) > MAX_DECODED_VALUE) throw new Error('HdrHistogram value out of range');
      out.indices[out.length] = index;
      out.counts[out.length] = n;
      out.length++;
    }
    index++;
  }
  return true;
}

/**
 * Adds the counts of an encoded histogram into `target` (which auto-resizes), and into
 * `alsoInto` when given (a read merging a bucket and its whole window decodes each encoding
 * once). Throws on anything that is not a V2 histogram, before adding anything. Encodings
 * with other precision settings are merged through the library, value by value, which is
 * slower but still exact to their precision.
 */
export function addEncoded(target: JsHistogram, encoded: string, alsoInto?: JsHistogram): void {
  if (!readCounts(encoded, target)) {
    const decoded = decodeFromCompressedBase64(encoded, 64) as JsHistogram;
    target.add(decoded);
    alsoInto?.add(decoded);
    return;
  }
  addDecodedCounts(target);
  if (alsoInto !== undefined) addDecodedCounts(alsoInto);
}

/**
 * Adds `decodedCounts` into `h` (same precision settings): counts go straight into its
 * array (recordValueWithCount would map each bucket's value back to its index), then
 * total, max and min are brought up to date once.
 */
export function addDecodedCounts(h: JsHistogram): void {
  const { indices, counts, length } = decodedCounts;
  if (length === 0) return;
  let added = 0;
  for (let i = 0; i < length; i++) {
    addAtIndex(h, indices[i] as number, counts[i] as number);
    added += counts[i] as number;
  }
  // Index 0 holds the value 0, which is no "non-zero minimum".
  const minNonZeroIndex = indices[0] === 0 ? (length > 1 ? (indices[1] as number) : -1) : (indices[0] as number);
  settle(h, added, minNonZeroIndex, indices[length - 1] as number);
}

/** Brings total, min and max up to date once after counts went straight into the array. */
function settle(h: JsHistogram, added: number, minNonZeroIndex: number, maxIndex: number): void {
  h.setTotalCount(h.totalCount + added);
  h.updateMinAndMax(h.highestEquivalentValue(h.valueFromIndex(maxIndex)));
  if (minNonZeroIndex > 0) h.updateMinAndMax(h.valueFromIndex(minNonZeroIndex));
}

/** Adds `n` at `index` of a histogram with our precision settings, growing it first if needed. */
function addAtIndex(h: JsHistogram, index: number, n: number): void {
  if (index >= h.countsArrayLength) {
    const value = h.valueFromIndex(index);
    if (!h.autoResize) throw new Error('the histogram cannot hold the values being added');
    h.resize(value);
    // As the library's own resize-on-record does.
    h.highestTrackableValue = h.highestEquivalentValue(h.valueFromIndex(h.countsArrayLength - 1));
  }
  h.addToCountAtIndex(index, n);
}

/** Writes the uncompressed V2 bytes of `h` (counts up to its largest value) into payloadScratch; returns their length. */
function encodeV2(h: JsHistogram, onBucket?: (index: number, count: number) => void): number {
  const limit = h.totalCount === 0 ? 1 : h.countsArrayIndex(h.maxValue) + 1;
  ensureScratch(HEADER_BYTES + limit * MAX_LEB128_BYTES);
  const out = payloadScratch;
  let pos = HEADER_BYTES;
  let i = 0;
  while (i < limit) {
    const count = h.getCountAtIndex(i++);
    if (count !== 0) {
      onBucket?.(i - 1, count);
      pos = writeZigZag(out, pos, count);
      continue;
    }
    let zeros = 1;
    while (i < limit && h.getCountAtIndex(i) === 0) {
      zeros++;
      i++;
    }
    // A single zero is written as a count of 0, a run as its negated length (as the reference does).
    pos = writeZigZag(out, pos, zeros > 1 ? -zeros : 0);
  }
  out.writeInt32BE(V2_COOKIE, 0);
  out.writeInt32BE(pos - HEADER_BYTES, 4);
  out.writeInt32BE(0, 8);
  out.writeInt32BE(h.numberOfSignificantValueDigits, 12);
  out.writeBigInt64BE(BigInt(h.lowestDiscernibleValue), 16);
  out.writeBigInt64BE(BigInt(Math.min(h.highestTrackableValue, Number.MAX_SAFE_INTEGER)), 24);
  out.writeDoubleBE(1.0, 32);
  return pos;
}

/** ZigZag then LEB128, with arithmetic rather than bit operators: counts may pass 2^32. */
function writeZigZag(out: Buffer, pos: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) {
    out[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  out[pos++] = z;
  return pos;
}

/**
 * Wraps payloadScratch[0, length) in a zlib stream (RFC 1950) of stored deflate blocks
 * (header 78 01, blocks of ≤ 65,535 bytes, Adler-32), written into outputScratch from byte 8.
 * Returns the stream's length.
 */
function zlibStored(length: number): number {
  const data = payloadScratch.subarray(0, length);
  const blocks = Math.max(1, Math.ceil(data.length / STORED_BLOCK_MAX));
  const out = outputScratch;
  out[8] = 0x78;
  out[9] = 0x01;
  let pos = 10;
  let offset = 0;
  for (let b = 0; b < blocks; b++) {
    const len = Math.min(STORED_BLOCK_MAX, data.length - offset);
    // BFINAL in bit 0, BTYPE 00 (stored) in bits 1-2; the rest of the byte is padding.
    out[pos++] = b === blocks - 1 ? 1 : 0;
    out.writeUInt16LE(len, pos);
    out.writeUInt16LE(len ^ 0xffff, pos + 2);
    pos += 4;
    data.copy(out, pos, offset, offset + len);
    pos += len;
    offset += len;
  }
  out.writeUInt32BE(adler32(data), pos);
  return pos + 4 - 8;
}

/** The payload of a zlib stream that is one final stored block with a matching checksum; null for anything else. */
function storedPayload(z: Buffer): Buffer | null {
  if (z.length < 11 || z[0] !== 0x78 || ((z[0] << 8) | (z[1] as number)) % 31 !== 0 || ((z[1] as number) & 0x20) !== 0 || z[2] !== 0x01) return null;
  const len = z.readUInt16LE(3);
  if ((len ^ 0xffff) !== z.readUInt16LE(5) || 7 + len + 4 !== z.length) return null;
  const payload = z.subarray(7, 7 + len);
  return adler32(payload) === z.readUInt32BE(7 + len) ? payload : null;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = data.length;
  // 5552 bytes is the most that can be summed before b could pass 2^32 (zlib's NMAX).
  for (let start = 0; start < n; start += 5552) {
    const stop = Math.min(n, start + 5552);
    for (let i = start; i < stop; i++) {
      a += data[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}
