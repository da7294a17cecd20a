import { type FileHandle, mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import { AckCursor } from './ack-cursor.js';
import { createSegmentFile, parseSegmentFileName, readFully, Segment } from './segment-file.js';
import { type ByteRange, SegmentScanner } from './segment-scan.js';
import { decodeFileHeader, FILE_HEADER_BYTES, type RecordHeader } from './record-format.js';

/**
 * Start-up: opens the spool directory and brings it to a state appends and reads can
 * start from. Rules, in order:
 *
 *  1. The cursor file gives the acknowledged id (0 when absent or unreadable: then every
 *     record still on disk is replayed once more).
 *  2. Segment files are read in sequence order; every record is checked (header CRC, id
 *     above the previous record's, payload fits in the file, payload CRC).
 *  3. A damaged range followed by a good record is skipped and left in place; damage
 *     with no good record after it (a torn tail) is cut off with ftruncate + fdatasync.
 *     A file with neither a valid header nor any good record (a crash while creating
 *     it) is deleted. Each case is one warning line and counts in the corrupt stats.
 *  4. Segments whose records are all acknowledged are deleted, except the last.
 *  5. The last segment stays the one appended to (after its last good record), unless
 *     its file header is damaged: then a fresh segment is created.
 *  6. Ids continue above every id seen and above the acknowledged id, so an id is
 *     never given to two records that could both still be read (and the cursor never
 *     covers a new record).
 *  7. Every kept segment is fdatasync'ed, so a record read after a restart is on disk
 *     even if the crash left it only in the page cache.
 *
 * Damage never stops start-up; I/O errors (permissions, a read-only disk) do.
 */
export interface HeadRecord {
  offset: number;
  header: RecordHeader;
}

export interface RecoveredSpool {
  dirHandle: FileHandle;
  cursor: AckCursor;
  ackedId: number;
  /** Oldest first; the last is the active segment. */
  segments: Segment[];
  activeHandle: FileHandle;
  nextId: number;
  /** Sequence number for the next segment file. */
  nextSegment: number;
  /** The read position in segments[0] and the record there, when there is one. */
  readOffset: number;
  head: HeadRecord | null;
  corruptRecords: number;
  corruptBytes: number;
}

/** Damage reports beyond this many per start-up are only counted in the summary line. */
const MAX_DAMAGE_LINES = 20;

export async function recoverSpool(dir: string, log: Logger): Promise<RecoveredSpool> {
  const startedAt = performance.now();
  await mkdir(dir, { recursive: true });
  const dirHandle = await open(dir, 'r');
  try {
    return await recoverIn(dir, dirHandle, log, startedAt);
  } catch (err) {
    await dirHandle.close().catch(() => undefined);
    throw err;
  }
}

async function recoverIn(dir: string, dirHandle: FileHandle, log: Logger, startedAt: number): Promise<RecoveredSpool> {
  const { cursor, ackedId, valid } = await AckCursor.open(dir, dirHandle);
  if (!valid) log.warn({ dir }, 'spool cursor file unreadable: every record still on disk will be replayed');

  const names = (await readdir(dir))
    .map((name) => ({ name, sequence: parseSegmentFileName(name) }))
    .filter((f): f is { name: string; sequence: number } => f.sequence !== null)
    .sort((a, b) => a.sequence - b.sequence);

  const scanner = new SegmentScanner();
  let corruptRecords = 0;
  let corruptBytes = 0;
  let damageLines = 0;
  const reportDamage = (segment: string, range: ByteRange, what: string): void => {
    corruptRecords++;
    corruptBytes += range.end - range.start;
    if (damageLines++ < MAX_DAMAGE_LINES) log.warn({ segment, offset: range.start, bytes: range.end - range.start }, what);
  };

  const kept: { segment: Segment; headerOk: boolean }[] = [];
  let lastId = 0;
  let head: { segment: Segment; offset: number; header: RecordHeader } | null = null;

  for (const { name, sequence } of names) {
    const path = join(dir, name);
    const handle = await open(path, 'r+');
    let segment: Segment | null;
    let headerOk: boolean;
    try {
      const { size } = await handle.stat();
      const fileHeader = new Uint8Array(FILE_HEADER_BYTES);
      headerOk = (await readFully(handle, fileHeader, 0)) === FILE_HEADER_BYTES && decodeFileHeader(fileHeader) === sequence;
      const seen = { records: 0, unacked: 0, firstOffset: -1, firstUnacked: null as HeadRecord | null };
      const result = await scanner.scan(handle, headerOk ? FILE_HEADER_BYTES : 0, size, lastId, (offset, header) => {
        if (seen.records++ === 0) seen.firstOffset = offset;
        lastId = header.id;
        if (header.id > ackedId && seen.unacked++ === 0) seen.firstUnacked = { offset, header };
      });

      if (!headerOk && seen.records === 0) {
        segment = null;
        if (size > 0) reportDamage(name, { start: 0, end: size }, 'spool segment with no valid header and no record: removed');
      } else {
        segment = new Segment(sequence, path, headerOk ? FILE_HEADER_BYTES : seen.firstOffset, result.goodEnd, seen.unacked);
        for (const range of result.skipped) {
          if (range.start < segment.start) {
            reportDamage(name, range, 'spool segment header damaged: skipped to its first good record');
          } else {
            (segment.skips ??= new Map()).set(range.start, range.end);
            reportDamage(name, range, 'spool records damaged: skipped to the next good record');
          }
        }
        if (result.tail !== null) {
          reportDamage(name, result.tail, 'spool segment has a torn or damaged tail: truncated after the last good record');
          await handle.truncate(result.goodEnd);
        }
        // After a kill -9 the last batch may still sit unsynced in the page cache: make what
        // was just verified durable before next() can hand it to anyone (rule 7).
        await handle.datasync();
        if (head === null && seen.firstUnacked !== null) head = { segment, ...seen.firstUnacked };
      }
    } finally {
      await handle.close();
    }
    if (segment === null) await unlink(path);
    else kept.push({ segment, headerOk });
  }

  // Rule 4. The cursor value read above is on disk (or at least in the page cache), and it
  // only ever names acknowledged records, so deleting by it never loses an unacknowledged one.
  const segments: Segment[] = [];
  for (let i = 0; i < kept.length; i++) {
    const { segment } = kept[i] as { segment: Segment };
    if (segment.unacked === 0 && i < kept.length - 1) await unlink(segment.path);
    else segments.push(segment);
  }

  // Rule 6. Segment numbers also only grow (above every name seen, removed files included),
  // so that file names keep sorting in append order.
  const last = kept.at(-1);
  const appendToLast = last !== undefined && last.headerOk;
  const nextId = Math.max(lastId, ackedId) + 1;
  let nextSegment = (names.at(-1)?.sequence ?? 0) + 1;
  let activeHandle: FileHandle;
  if (appendToLast) {
    activeHandle = await open(last.segment.path, 'r+');
  } else {
    const created = await createSegmentFile(dir, dirHandle, nextSegment++);
    segments.push(created.segment);
    activeHandle = created.handle;
  }

  const first = segments[0] as Segment;
  const readOffset = head !== null ? head.offset : first.end;
  let records = 0;
  for (const s of segments) records += s.unacked;
  const summary = {
    dir,
    segments: segments.length,
    records,
    ackedId,
    nextId,
    corruptRecords,
    corruptBytes,
    ms: Math.round(performance.now() - startedAt),
  };
  if (corruptRecords > 0) log.warn(summary, 'spool recovered with damage skipped');
  else log.info(summary, 'spool recovered');
  return {
    dirHandle,
    cursor,
    ackedId,
    segments,
    activeHandle,
    nextId,
    nextSegment,
    readOffset,
    head: head === null ? null : { offset: head.offset, header: head.header },
    corruptRecords,
    corruptBytes,
  };
}
