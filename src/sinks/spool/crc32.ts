import zlib from 'node:zlib';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320: the CRC of zlib, gzip and PNG).
 * `crc32(b, crc32(a)) === crc32(a ++ b)`, so large payloads can be checked in slices.
 *
 * Node ships a native one from 20.15; package.json still allows 20.10, so older
 * runtimes get the table-driven version below (same results, about ten times slower).
 */
export type Crc32 = (data: Uint8Array, previous?: number) => number;

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Byte-at-a-time table CRC; exported so the test can hold it against zlib's. */
export function crc32Table(data: Uint8Array, previous = 0): number {
  let crc = ~previous;
  for (let i = 0; i < data.length; i++) {
    crc = (TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export const crc32: Crc32 = typeof nativeCrc32 === 'function' ? (data, previous = 0) => nativeCrc32(data, previous) : crc32Table;

/**
 * Payloads reach tens of MiB and CRC-32 runs at about 1 GB/s here: one call on a 32 MiB
 * payload would hold the event loop for ~30 ms. Above this size the checksum is taken in
 * slices with a turn of the event loop between them, so no single stall exceeds ~1 ms.
 */
export const CRC_SLICE_BYTES = 1024 * 1024;

export async function crc32Sliced(data: Uint8Array): Promise<number> {
  if (data.byteLength <= CRC_SLICE_BYTES) return crc32(data);
  let crc = 0;
  for (let start = 0; start < data.byteLength; start += CRC_SLICE_BYTES) {
    if (start > 0) await yieldToEventLoop();
    crc = crc32(data.subarray(start, Math.min(start + CRC_SLICE_BYTES, data.byteLength)), crc);
  }
  return crc;
}
