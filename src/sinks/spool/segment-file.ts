import { type FileHandle, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeFileHeader, FILE_HEADER_BYTES } from './record-format.js';

/**
 * One segment file and what the spool knows about it. Segments are numbered in creation
 * order, so listing the directory gives them in append order.
 */
export class Segment {
  /** Corrupt regions found by recovery or by a read: start offset -> first offset after. */
  skips: Map<number, number> | null = null;
  /** The reader's handle, opened on first read and closed when the segment is reclaimed. */
  readHandle: FileHandle | null = null;

  constructor(
    readonly sequence: number,
    readonly path: string,
    /** Offset of its first record: FILE_HEADER_BYTES, or later when recovery found the file header damaged. */
    readonly start: number,
    /** Offset after the last good, durable record. The file is exactly this long. */
    public end: number,
    /** Records in it that are not yet acknowledged. */
    public unacked: number,
  ) {}

  async reader(): Promise<FileHandle> {
    this.readHandle ??= await open(this.path, 'r');
    return this.readHandle;
  }

  async closeReader(): Promise<void> {
    const handle = this.readHandle;
    this.readHandle = null;
    await handle?.close();
  }
}

const SEGMENT_NAME = /^(\d{16})\.seg$/;

export function segmentFileName(sequence: number): string {
  return `${String(sequence).padStart(16, '0')}.seg`;
}

/** The sequence number in a segment file name, or null for any other file. */
export function parseSegmentFileName(name: string): number | null {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? null : Number(match[1]);
}

/**
 * Creates the file for a new segment and makes its existence durable: header written and
 * fdatasync'ed, then the directory fsync'ed, so a crash can never leave a record in a file
 * whose directory entry was lost. 'wx+' refuses to reuse a name.
 */
export async function createSegmentFile(dir: string, dirHandle: FileHandle, sequence: number): Promise<{ segment: Segment; handle: FileHandle }> {
  const path = join(dir, segmentFileName(sequence));
  const handle = await open(path, 'wx+');
  try {
    await writeFully(handle, [encodeFileHeader(sequence, Date.now())], 0);
    await handle.datasync();
    await dirHandle.sync();
  } catch (err) {
    // Leave no file behind that the spool does not count; recovery would drop it anyway.
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  return { segment: new Segment(sequence, path, FILE_HEADER_BYTES, FILE_HEADER_BYTES, 0), handle };
}

/** writev until every byte is written: libuv already retries short writes, this covers the rest. */
export async function writeFully(handle: FileHandle, buffers: Uint8Array[], position: number): Promise<number> {
  let remaining = buffers;
  let at = position;
  for (;;) {
    const want = byteLengthOf(remaining);
    if (want === 0) return at - position;
    const { bytesWritten } = await handle.writev(remaining, at);
    at += bytesWritten;
    if (bytesWritten === want) return at - position;
    if (bytesWritten === 0) throw new Error(`writev wrote nothing at offset ${at} of ${want} bytes`);
    remaining = dropBytes(remaining, bytesWritten);
  }
}

function byteLengthOf(buffers: readonly Uint8Array[]): number {
  let total = 0;
  for (const b of buffers) total += b.byteLength;
  return total;
}

function dropBytes(buffers: readonly Uint8Array[], count: number): Uint8Array[] {
  let skip = count;
  let i = 0;
  while (i < buffers.length && skip >= (buffers[i] as Uint8Array).byteLength) skip -= (buffers[i++] as Uint8Array).byteLength;
  const rest = buffers.slice(i);
  if (rest.length > 0 && skip > 0) rest[0] = (rest[0] as Uint8Array).subarray(skip);
  return rest;
}

/** Reads `out.byteLength` bytes at `position`; returns fewer only at end of file. */
export async function readFully(handle: FileHandle, out: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < out.byteLength) {
    const { bytesRead } = await handle.read(out, done, out.byteLength - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
