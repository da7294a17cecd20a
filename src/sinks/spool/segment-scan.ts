import type { FileHandle } from 'node:fs/promises';
import { crc32 } from './crc32.js';
import { readFully } from './segment-file.js';
import { decodeRecordHeader, REC_HEADER_BYTES, RECORD_MAGIC_BYTES, type RecordHeader } from './record-format.js';

/**
 * Verifies the records of a segment file, and finds the next good record after damage.
 * Used by recovery over whole files and by the reader when a record goes bad under it.
 *
 * Memory stays bounded whatever the bytes say: a header is believed only when its CRC
 * matches, a length only when the payload fits before `limit` (the file size), and
 * files are read through two fixed 1 MiB windows, payloads never whole.
 */
type RecordCheck =
  | { kind: 'ok'; header: RecordHeader }
  /** No trustworthy header here: wrong magic or CRC, a partial header, or an id out of order. */
  | { kind: 'bad-header' }
  /** A good header whose payload runs past the end: a write cut short. */
  | { kind: 'torn'; header: RecordHeader }
  /** A good header with a payload that fails its CRC; the length can be used to step over it. */
  | { kind: 'bad-payload'; header: RecordHeader };

export interface ByteRange {
  start: number;
  end: number;
}

export interface ScanResult {
  /** Offset after the last good record; `from` when there is none. */
  goodEnd: number;
  /** Corrupt ranges with a good record after them: skipped, kept on disk. */
  skipped: ByteRange[];
  /** Bytes after the last good record that hold no good record: to truncate. */
  tail: ByteRange | null;
}

/** Recovery reads files through windows of this size: one read per MiB, not two per record. */
const WINDOW_BYTES = 1024 * 1024;

/**
 * A read-ahead window over one file. Recovery walks records front to back, so nearly every
 * header and payload is already in the window; a position outside it refills it from there.
 */
class ReadWindow {
  private readonly buffer = Buffer.allocUnsafe(WINDOW_BYTES);
  private handle: FileHandle | null = null;
  private start = 0;
  private length = 0;

  /** Forget what was read: the file may have changed (or be another file) since. */
  reset(handle: FileHandle): void {
    this.handle = handle;
    this.length = 0;
  }

  /** Up to `n` (<= WINDOW_BYTES) bytes at `position`; fewer only at end of file. Valid until the next call. */
  async view(position: number, n: number): Promise<Buffer> {
    const offset = position - this.start;
    if (offset < 0 || offset + n > this.length) {
      this.start = position;
      this.length = await readFully(this.handle as FileHandle, this.buffer, position);
      return this.buffer.subarray(0, Math.min(n, this.length));
    }
    return this.buffer.subarray(offset, offset + n);
  }
}

export class SegmentScanner {
  private readonly records = new ReadWindow();
  private readonly search = new ReadWindow();

  /** Checks the record at `offset`; its id must be above `afterId` (ids only ever grow). */
  private async check(offset: number, limit: number, afterId: number): Promise<RecordCheck> {
    if (offset + REC_HEADER_BYTES > limit) return { kind: 'bad-header' };
    const headerBytes = await this.records.view(offset, REC_HEADER_BYTES);
    const header = headerBytes.byteLength === REC_HEADER_BYTES ? decodeRecordHeader(headerBytes) : null;
    if (header === null || header.id <= afterId) return { kind: 'bad-header' };
    const payloadStart = offset + REC_HEADER_BYTES;
    if (header.length > limit - payloadStart) return { kind: 'torn', header };
    let crc = 0;
    for (let at = 0; at < header.length; ) {
      const want = Math.min(WINDOW_BYTES, header.length - at);
      const bytes = await this.records.view(payloadStart + at, want);
      if (bytes.byteLength < want) return { kind: 'torn', header };
      crc = crc32(bytes, crc);
      at += want;
    }
    return crc === header.payloadCrc ? { kind: 'ok', header } : { kind: 'bad-payload', header };
  }

  /**
   * The offset of the first good record at or after `from`, searching for the record magic
   * and checking each candidate in full; null when none lies before `limit`.
   */
  async findNext(handle: FileHandle, from: number, limit: number, afterId: number): Promise<number | null> {
    this.records.reset(handle);
    this.search.reset(handle);
    const magicLength = RECORD_MAGIC_BYTES.byteLength;
    let position = from;
    while (position + REC_HEADER_BYTES <= limit) {
      const want = Math.min(WINDOW_BYTES, limit - position);
      const window = await this.search.view(position, want);
      const got = window.byteLength;
      for (let i = window.indexOf(RECORD_MAGIC_BYTES); i !== -1; i = window.indexOf(RECORD_MAGIC_BYTES, i + 1)) {
        if ((await this.check(position + i, limit, afterId)).kind === 'ok') return position + i;
      }
      if (got < want || position + got >= limit) return null;
      // Step back so a magic split across two windows is still seen whole.
      position += got - (magicLength - 1);
    }
    return null;
  }

  /**
   * Walks the records in [from, limit), calling `onRecord` for each good one in order.
   * A record with a bad payload is stepped over by its (CRC-checked) length; after a bad
   * header the next good record is searched for. Damage with nothing good after it is
   * the tail.
   */
  async scan(
    handle: FileHandle,
    from: number,
    limit: number,
    afterId: number,
    onRecord: (offset: number, header: RecordHeader) => void,
  ): Promise<ScanResult> {
    this.records.reset(handle);
    const skipped: ByteRange[] = [];
    let offset = from;
    let lastId = afterId;
    while (offset < limit) {
      const result = await this.check(offset, limit, lastId);
      if (result.kind === 'ok') {
        onRecord(offset, result.header);
        lastId = result.header.id;
        offset += REC_HEADER_BYTES + result.header.length;
        continue;
      }
      if (result.kind === 'torn') break;
      // A bad payload under a good header: the next record starts right after it, and the
      // payload's own bytes are never searched (a payload may well contain spool records).
      const resumeFrom = result.kind === 'bad-payload' ? offset + REC_HEADER_BYTES + result.header.length : offset + 1;
      const next = await this.findNext(handle, resumeFrom, limit, lastId);
      if (next === null) break;
      skipped.push({ start: offset, end: next });
      offset = next;
    }
    return { goodEnd: offset, skipped, tail: offset < limit ? { start: offset, end: limit } : null };
  }
}
