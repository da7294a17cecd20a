/**
 * The spool's bytes on disk: the one place that says which byte means what. All integers
 * are little-endian; ids are unsigned 64-bit on disk but always below 2^53 (they are JS
 * numbers). Every header ends with a CRC-32 of the bytes before it, so a header is
 * trusted (and its length field believed) only when that CRC matches.
 *
 * A spool directory holds segment files `<sequence, 16 decimal digits>.seg` (numbered in
 * creation order; record ids live in the records) and one cursor file `acknowledged`.
 *
 * Segment file = FILE_HEADER_BYTES header, then records back to back (no padding):
 *
 *   offset  size  field
 *   0       4     FH_MAGIC        "MPSG"
 *   4       2     FH_VERSION      FORMAT_VERSION
 *   6       2     FH_HEADER_SIZE  FILE_HEADER_BYTES (lets a later version grow the header)
 *   8       8     FH_SEQUENCE     the segment's sequence number (= its file name)
 *   16      8     FH_CREATED_AT   ms since the epoch, float64 (diagnostics only)
 *   24      4     (reserved, 0)
 *   28      4     FH_CRC          CRC-32 of bytes [0, 28)
 *
 * Record = REC_HEADER_BYTES header, then `length` payload bytes:
 *
 *   0       4     REC_MAGIC       "MPR1"; resynchronisation after a corrupt header searches for it
 *   4       4     REC_LENGTH      payload bytes, <= MAX_PAYLOAD_BYTES
 *   8       8     REC_ID          record id; strictly increasing through the whole spool
 *   16      8     REC_APPENDED_AT ms since the epoch, float64
 *   24      4     REC_PAYLOAD_CRC CRC-32 of the payload
 *   28      4     REC_HEADER_CRC  CRC-32 of bytes [0, 28)
 *
 * Cursor file `acknowledged` = CURSOR_BYTES, rewritten in place at offset 0 (16 bytes sit
 * in one disk sector, and a torn write fails its CRC and is ignored):
 *
 *   0       4     CUR_MAGIC       "MPAK"
 *   4       8     CUR_ACKED_ID    every record with id <= this is acknowledged
 *   12      4     CUR_CRC         CRC-32 of bytes [0, 12)
 */
import { crc32 } from './crc32.js';

export const FORMAT_VERSION = 1;

export const FILE_HEADER_BYTES = 32;
export const FH_MAGIC = 0;
export const FH_VERSION = 4;
export const FH_HEADER_SIZE = 6;
export const FH_SEQUENCE = 8;
export const FH_CREATED_AT = 16;
export const FH_CRC = 28;
/** "MPSG" read as a little-endian u32. */
export const FILE_MAGIC = 0x4753504d;

export const REC_HEADER_BYTES = 32;
export const REC_MAGIC = 0;
export const REC_LENGTH = 4;
export const REC_ID = 8;
export const REC_APPENDED_AT = 16;
export const REC_PAYLOAD_CRC = 24;
export const REC_HEADER_CRC = 28;
/** "MPR1" read as a little-endian u32. */
export const RECORD_MAGIC = 0x3152504d;
/** The magic as bytes, for Buffer.indexOf during resynchronisation. */
export const RECORD_MAGIC_BYTES: Uint8Array = Uint8Array.of(0x4d, 0x50, 0x52, 0x31);

export const CURSOR_BYTES = 16;
export const CUR_MAGIC = 0;
export const CUR_ACKED_ID = 4;
export const CUR_CRC = 12;
/** "MPAK" read as a little-endian u32. */
export const CURSOR_MAGIC = 0x4b41504d;

/**
 * Largest payload the format accepts. A length above it can only be corruption, and it
 * keeps every record readable into one Buffer.
 */
export const MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024;

export interface RecordHeader {
  id: number;
  length: number;
  appendedAt: number;
  payloadCrc: number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function writeId(v: DataView, at: number, id: number): void {
  v.setUint32(at, id % 0x1_0000_0000, true);
  v.setUint32(at + 4, Math.floor(id / 0x1_0000_0000), true);
}

/** Reads a u64 id; null when it is not a safe integer (only corruption writes such). */
function readId(v: DataView, at: number): number | null {
  const high = v.getUint32(at + 4, true);
  if (high > 0x1f_ffff) return null;
  return high * 0x1_0000_0000 + v.getUint32(at, true);
}

/** Fills `out` (REC_HEADER_BYTES long) with a record header. */
export function encodeRecordHeader(out: Uint8Array, header: RecordHeader): void {
  const v = view(out);
  v.setUint32(REC_MAGIC, RECORD_MAGIC, true);
  v.setUint32(REC_LENGTH, header.length, true);
  writeId(v, REC_ID, header.id);
  v.setFloat64(REC_APPENDED_AT, header.appendedAt, true);
  v.setUint32(REC_PAYLOAD_CRC, header.payloadCrc, true);
  v.setUint32(REC_HEADER_CRC, crc32(out.subarray(0, REC_HEADER_CRC)), true);
}

/**
 * Decodes a record header, or null when it is not one: wrong magic, CRC mismatch, an id
 * that is not a safe integer, or a length over MAX_PAYLOAD_BYTES. Whether the length fits
 * in the file is the caller's check (it knows the file size).
 */
export function decodeRecordHeader(bytes: Uint8Array): RecordHeader | null {
  if (bytes.byteLength < REC_HEADER_BYTES) return null;
  const v = view(bytes);
  if (v.getUint32(REC_MAGIC, true) !== RECORD_MAGIC) return null;
  if (v.getUint32(REC_HEADER_CRC, true) !== crc32(bytes.subarray(0, REC_HEADER_CRC))) return null;
  const id = readId(v, REC_ID);
  const length = v.getUint32(REC_LENGTH, true);
  if (id === null || length > MAX_PAYLOAD_BYTES) return null;
  return { id, length, appendedAt: v.getFloat64(REC_APPENDED_AT, true), payloadCrc: v.getUint32(REC_PAYLOAD_CRC, true) };
}

export function encodeFileHeader(sequence: number, createdAt: number): Uint8Array {
  const out = new Uint8Array(FILE_HEADER_BYTES);
  const v = view(out);
  v.setUint32(FH_MAGIC, FILE_MAGIC, true);
  v.setUint16(FH_VERSION, FORMAT_VERSION, true);
  v.setUint16(FH_HEADER_SIZE, FILE_HEADER_BYTES, true);
  writeId(v, FH_SEQUENCE, sequence);
  v.setFloat64(FH_CREATED_AT, createdAt, true);
  v.setUint32(FH_CRC, crc32(out.subarray(0, FH_CRC)), true);
  return out;
}

/** The sequence number of a valid file header of this version, else null. */
export function decodeFileHeader(bytes: Uint8Array): number | null {
  if (bytes.byteLength < FILE_HEADER_BYTES) return null;
  const v = view(bytes);
  if (v.getUint32(FH_MAGIC, true) !== FILE_MAGIC) return null;
  if (v.getUint32(FH_CRC, true) !== crc32(bytes.subarray(0, FH_CRC))) return null;
  if (v.getUint16(FH_VERSION, true) !== FORMAT_VERSION || v.getUint16(FH_HEADER_SIZE, true) !== FILE_HEADER_BYTES) return null;
  return readId(v, FH_SEQUENCE);
}

export function encodeCursor(out: Uint8Array, ackedId: number): void {
  const v = view(out);
  v.setUint32(CUR_MAGIC, CURSOR_MAGIC, true);
  writeId(v, CUR_ACKED_ID, ackedId);
  v.setUint32(CUR_CRC, crc32(out.subarray(0, CUR_CRC)), true);
}

/** The acknowledged id of a valid cursor, else null. */
export function decodeCursor(bytes: Uint8Array): number | null {
  if (bytes.byteLength < CURSOR_BYTES) return null;
  const v = view(bytes);
  if (v.getUint32(CUR_MAGIC, true) !== CURSOR_MAGIC) return null;
  if (v.getUint32(CUR_CRC, true) !== crc32(bytes.subarray(0, CUR_CRC))) return null;
  return readId(v, CUR_ACKED_ID);
}
