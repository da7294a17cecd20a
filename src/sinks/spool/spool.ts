import { type FileHandle, unlink } from 'node:fs/promises';
import { type Logger, ThrottledLog } from '../../logger.js';
import type { AckCursor } from './ack-cursor.js';
import { CRC_SLICE_BYTES, crc32, crc32Sliced } from './crc32.js';
import { recoverSpool } from './recovery.js';
import { createSegmentFile, readFully, type Segment, writeFully } from './segment-file.js';
import { SegmentScanner } from './segment-scan.js';
import { SpoolError } from './spool-error.js';
import { decodeRecordHeader, encodeRecordHeader, FILE_HEADER_BYTES, MAX_PAYLOAD_BYTES, REC_HEADER_BYTES, type RecordHeader } from './record-format.js';

export interface SpoolOptions {
  /** Created if missing. Holds nothing but the spool's files. */
  dir: string;
  /** Bound on the spool's bytes on disk (segment files); an append that would pass it resolves 'full'. */
  maxBytes: number;
  /** A segment holding at least one record is closed, and a new one started, before it would pass this size. */
  segmentBytes: number;
}

export type AppendResult = 'ok' | 'full';

export interface SpoolRecord {
  /** Strictly increasing in append order, also across restarts. */
  id: number;
  payload: Uint8Array;
  /** When append() was called, ms since the epoch. */
  appendedAt: number;
}

export interface SpoolStats {
  /** Bytes of all segment files, acknowledged records not yet reclaimed included. */
  bytes: number;
  /** Records appended (durably) and not yet acknowledged. */
  records: number;
  segments: number;
  /** appendedAt of the oldest unacknowledged record, or null when there is none. */
  oldestAppendedAt: number | null;
  /** Damaged ranges skipped since open: a record with a bad checksum, or bytes up to the next good record or the end. */
  corruptRecordsSkipped: number;
  corruptBytesSkipped: number;
}

/** How an append reaches its segment: after the ones before it, in a new segment, or in a new segment replacing the fully acknowledged active one. */
type Placement = 'same' | 'roll' | 'replace';

interface PendingAppend {
  header: RecordHeader;
  payload: Uint8Array;
  /** The encoded header; filled once the payload's CRC is known (`ready`). */
  headerBytes: Uint8Array;
  ready: boolean;
  placement: Placement;
  /** What it adds to the spool's bytes: the record, plus a segment header when it rolls. */
  plannedBytes: number;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/** Bounds one group commit: 2 iovecs per record stays within a few IOV_MAX rounds, and a batch within one sync's worth. */
const MAX_BATCH_RECORDS = 1024;
const MAX_BATCH_BYTES = 32 * 1024 * 1024;
const MIN_SEGMENT_BYTES = FILE_HEADER_BYTES + REC_HEADER_BYTES;
const WRITE_FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * The spool: a directory of append-only segment files plus a cursor file.
 *
 * Writer side: append() plans the record's place synchronously (so 'full' is exact and ids
 * follow call order), then one write loop takes every ready append queued behind the one
 * in flight, writes them with one writev and makes them durable with one fdatasync (group
 * commit), and only then resolves them.
 *
 * Reader side: next(), acknowledge() and segment reclaim run one at a time on a promise
 * chain. The read position only moves on acknowledge(), and only durable records are read.
 *
 * When an acknowledged record can be replayed after a restart (PostgreSQL dedupes it):
 *  - after close(): never;
 *  - after a process crash (kill -9): only a record whose acknowledge() had not resolved;
 *  - after power loss or a kernel crash: also records acknowledged since the cursor was
 *    last fdatasync'ed, which happens before every segment deletion, so only records of
 *    the oldest segment still on disk (at most one segment's worth).
 */
export class Spool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly log: Logger;
  private readonly writeFailures: ThrottledLog;
  private readonly dirHandle: FileHandle;
  private readonly cursor: AckCursor;
  private readonly scanner = new SegmentScanner();

  /** Oldest first; the last one is `active`, the one appended to. */
  private readonly segments: Segment[];
  private active: Segment;
  private activeHandle: FileHandle;
  /** Sum of the segments' sizes. */
  private totalBytes = 0;
  /** Durable records not yet acknowledged. */
  private records = 0;
  private corruptRecords: number;
  private corruptBytes: number;

  // Writer state.
  private readonly queue: PendingAppend[] = [];
  private writing = false;
  private nextId: number;
  private nextSegment: number;
  /** The next segment file, made ahead of the roll (see prepareSpare). */
  private spare: { segment: Segment; handle: FileHandle } | null = null;
  /** plannedBytes of every append queued or being written. */
  private queuedBytes = 0;
  /** Size of the last segment once every queued append is written; decides rolls. */
  private plannedTail: number;
  /** The fully acknowledged active segment a 'replace' append will delete; its bytes are already promised away. */
  private replacing: Segment | null = null;
  private failure: unknown = null;
  private idleWaiters: (() => void)[] = [];

  // Reader state.
  private readerChain: Promise<unknown> = Promise.resolve();
  /** Position in segments[0] of the oldest unacknowledged record (or where it will be written). */
  private readOffset: number;
  /** That record's header, once read. */
  private head: RecordHeader | null;
  /** That record in full, once next() has read it; kept until it is acknowledged. */
  private headRecord: SpoolRecord | null = null;
  private ackedId: number;

  private closing: Promise<void> | null = null;

  private constructor(options: SpoolOptions, log: Logger, state: Awaited<ReturnType<typeof recoverSpool>>) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.segmentBytes = options.segmentBytes;
    this.log = log;
    this.writeFailures = new ThrottledLog(log, WRITE_FAILURE_LOG_INTERVAL_MS);
    this.dirHandle = state.dirHandle;
    this.cursor = state.cursor;
    this.segments = state.segments;
    this.active = state.segments.at(-1) as Segment;
    this.activeHandle = state.activeHandle;
    for (const segment of this.segments) {
      this.totalBytes += segment.end;
      this.records += segment.unacked;
    }
    this.corruptRecords = state.corruptRecords;
    this.corruptBytes = state.corruptBytes;
    this.nextId = state.nextId;
    this.nextSegment = state.nextSegment;
    this.plannedTail = this.active.end;
    this.readOffset = state.readOffset;
    this.head = state.head?.header ?? null;
    this.ackedId = state.ackedId;
  }

  /**
   * Opens (or creates) the spool and recovers it (rules in recovery.ts). `log` is used as
   * given: pass the component's child logger. Damage never fails the open; I/O errors do.
   */
  static async open(options: SpoolOptions, log: Logger): Promise<Spool> {
    validateOptions(options);
    const state = await recoverSpool(options.dir, log);
    const spool = new Spool(options, log, state);
    // Segments left behind fully acknowledged (e.g. one whose file header was damaged) go now.
    await spool.runReader(() => spool.settleHead());
    return spool;
  }

  // ---------------------------------------------------------------- writer side

  /**
   * Resolves 'ok' once the record is fdatasync'ed, 'full' (writing nothing) when it would
   * take the spool past maxBytes. `payload` is written as it is when its batch goes out:
   * do not change it until the promise settles. Rejects with a SpoolError when the spool
   * is closed or a write failed (spool_write_failed: this batch only; spool_failed: every
   * append until reopened), with a RangeError over MAX_PAYLOAD_BYTES. Only 'ok' is a
   * promise: an append that rejected, or was pending at a crash, may or may not be read
   * back after a restart.
   */
  append(payload: Uint8Array): Promise<AppendResult> {
    if (this.closing !== null) return Promise.reject(new SpoolError('spool_closed'));
    if (this.failure !== null) return Promise.reject(new SpoolError('spool_failed', { cause: this.failure }));
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      return Promise.reject(new RangeError(`spool payload of ${payload.byteLength} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`));
    }
    const recordBytes = REC_HEADER_BYTES + payload.byteLength;
    let placement: Placement = this.plannedTail > FILE_HEADER_BYTES && this.plannedTail + recordBytes > this.segmentBytes ? 'roll' : 'same';
    let plannedBytes = placement === 'roll' ? FILE_HEADER_BYTES + recordBytes : recordBytes;
    const planned = this.totalBytes + this.queuedBytes - (this.replacing?.end ?? 0);
    if (planned + plannedBytes > this.maxBytes) {
      // Everything is acknowledged, but the active segment still holds it and is only
      // reclaimed once it is no longer active: start a new one in its place.
      const canReplace = this.records === 0 && !this.writing && this.queue.length === 0 && this.replacing === null;
      plannedBytes = FILE_HEADER_BYTES + recordBytes;
      if (!canReplace || this.active.end <= FILE_HEADER_BYTES || planned - this.active.end + plannedBytes > this.maxBytes) {
        return Promise.resolve('full');
      }
      placement = 'replace';
      this.replacing = this.active;
    }
    this.queuedBytes += plannedBytes;
    this.plannedTail = placement === 'same' ? this.plannedTail + recordBytes : FILE_HEADER_BYTES + recordBytes;

    const header: RecordHeader = { id: this.nextId++, length: payload.byteLength, appendedAt: Date.now(), payloadCrc: 0 };
    return new Promise<AppendResult>((resolve, reject) => {
      const entry: PendingAppend = {
        header,
        payload,
        // allocUnsafe of 32 bytes slices Node's shared 8 KiB pool: no allocation of its own.
        headerBytes: Buffer.allocUnsafe(REC_HEADER_BYTES),
        ready: false,
        placement,
        plannedBytes,
        resolve,
        reject,
      };
      this.queue.push(entry);
      if (payload.byteLength <= CRC_SLICE_BYTES) {
        this.seal(entry, crc32(payload));
      } else {
        // Large payloads are checksummed in slices (see crc32.ts); the entry keeps its place
        // in the queue meanwhile, and the write loop stops in front of it until it is ready.
        void crc32Sliced(payload).then((crc) => this.seal(entry, crc));
      }
    });
  }

  private seal(entry: PendingAppend, payloadCrc: number): void {
    entry.header.payloadCrc = payloadCrc;
    encodeRecordHeader(entry.headerBytes, entry.header);
    entry.ready = true;
    if (!this.writing && this.queue[0]?.ready === true) {
      this.writing = true;
      void this.writeLoop();
    }
  }

  private async writeLoop(): Promise<void> {
    while (this.failure === null && this.queue[0]?.ready === true) await this.commit(this.takeBatch());
    if (this.failure !== null) {
      for (const entry of this.queue.splice(0)) this.settleFailed(entry, new SpoolError('spool_failed', { cause: this.failure }));
    }
    this.writing = false;
    if (this.queue.length === 0) {
      this.plannedTail = this.active.end;
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private takeBatch(): PendingAppend[] {
    const queue = this.queue;
    let count = 1;
    let bytes = (queue[0] as PendingAppend).plannedBytes;
    while (count < queue.length && count < MAX_BATCH_RECORDS) {
      const entry = queue[count] as PendingAppend;
      if (!entry.ready || entry.placement !== 'same' || bytes + entry.plannedBytes > MAX_BATCH_BYTES) break;
      bytes += entry.plannedBytes;
      count++;
    }
    return queue.splice(0, count);
  }

  /** Writes one batch into one segment, syncs it, and settles every append in it. Never throws. */
  private async commit(batch: PendingAppend[]): Promise<void> {
    const first = batch[0] as PendingAppend;
    if (first.placement !== 'same') {
      try {
        await this.rollSegment();
      } catch (err) {
        // The appends queued behind were planned into the new segment: the next one in line
        // inherits the roll (and its segment header's bytes), so the plan stays true.
        const heir = this.queue[0];
        if (heir !== undefined && heir.placement === 'same') {
          heir.placement = first.placement;
          heir.plannedBytes += FILE_HEADER_BYTES;
          this.queuedBytes += FILE_HEADER_BYTES;
        } else if (this.replacing === this.active) {
          this.replacing = null;
        }
        this.writeFailures.warn({ err }, 'spool could not start a new segment; batch rejected');
        for (const entry of batch) this.settleFailed(entry, new SpoolError('spool_write_failed', { cause: err }));
        return;
      }
    }
    const segment = this.active;
    const start = segment.end;
    const buffers: Uint8Array[] = [];
    let bytes = 0;
    for (const entry of batch) {
      buffers.push(entry.headerBytes);
      if (entry.payload.byteLength > 0) buffers.push(entry.payload);
      bytes += REC_HEADER_BYTES + entry.payload.byteLength;
    }
    // Past half a segment, the next segment file is made beside this write (see prepareSpare).
    const spareJob = this.spare === null && start + bytes > this.segmentBytes / 2 ? this.prepareSpare() : null;
    const outcome = await this.writeDurably(this.activeHandle, buffers, start);
    if (spareJob !== null) await spareJob;
    if (outcome !== 'ok') {
      for (const entry of batch) this.settleFailed(entry, outcome);
      return;
    }
    segment.end = start + bytes;
    segment.unacked += batch.length;
    this.totalBytes += bytes;
    this.records += batch.length;
    for (const entry of batch) this.queuedBytes -= entry.plannedBytes;
    if (this.head === null) {
      if (this.segments[0] === segment && this.readOffset === start) this.head = first.header;
      else this.runReader(() => this.settleHead()).catch((err: unknown) => this.log.error({ err }, 'spool reader failed'));
    }
    for (const entry of batch) entry.resolve('ok');
  }

  /** writev + fdatasync at `start`; 'ok', or the SpoolError to reject the batch with. Never throws. */
  private async writeDurably(handle: FileHandle, buffers: Uint8Array[], start: number): Promise<'ok' | SpoolError> {
    try {
      await writeFully(handle, buffers, start);
    } catch (err) {
      // Nothing of the batch was promised. Cut the file back so the next batch follows the
      // last good record; if even that fails, the file cannot be trusted any more.
      await handle.truncate(start).catch((truncateErr: unknown) => this.fail(truncateErr));
      this.writeFailures.warn({ err }, 'spool write failed; batch rejected');
      return new SpoolError('spool_write_failed', { cause: err });
    }
    try {
      await handle.datasync();
    } catch (err) {
      // After a failed fsync Linux may already have dropped the dirty pages and will not
      // report it again ("fsyncgate"): nothing written since the last good sync is known to
      // be on disk, so the spool stops accepting until it is reopened and recovered.
      this.fail(err);
      return new SpoolError('spool_failed', { cause: err });
    }
    return 'ok';
  }

  /**
   * Creating a segment costs an open, a header write, an fdatasync and a directory fsync:
   * 2-15 ms here, and at 16 MiB segments and hundreds of MB/s a roll every few batches.
   * So the next segment file is made while the current one still fills, in parallel with a
   * batch's write, and a roll only switches to it. Its 32 bytes count in the spool's size
   * from the start, and it is made only when they fit under maxBytes. Never throws.
   */
  private async prepareSpare(): Promise<void> {
    if (this.totalBytes + this.queuedBytes + FILE_HEADER_BYTES > this.maxBytes) return;
    this.totalBytes += FILE_HEADER_BYTES;
    try {
      this.spare = await createSegmentFile(this.dir, this.dirHandle, this.nextSegment++);
    } catch (err) {
      this.totalBytes -= FILE_HEADER_BYTES;
      this.writeFailures.warn({ err }, 'spool could not prepare the next segment; it is made at the roll');
    }
  }

  private settleFailed(entry: PendingAppend, err: unknown): void {
    this.queuedBytes -= entry.plannedBytes;
    entry.reject(err);
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.log.error({ err }, 'spool write or sync failed: no more appends until the spool is reopened');
  }

  /**
   * Switches appends to the next segment (the spare, or one made now). When the previous
   * segment is already fully acknowledged (always so for a 'replace', whose record was
   * admitted on the bytes it gives back) it is deleted before the batch is written;
   * otherwise the reader deletes it once it has acknowledged past it.
   */
  private async rollSegment(): Promise<void> {
    const previous = this.active;
    const previousHandle = this.activeHandle;
    let next = this.spare;
    this.spare = null;
    if (next === null) {
      next = await createSegmentFile(this.dir, this.dirHandle, this.nextSegment++);
      this.totalBytes += FILE_HEADER_BYTES;
    }
    this.segments.push(next.segment);
    this.active = next.segment;
    this.activeHandle = next.handle;
    await previousHandle.close().catch((err: unknown) => this.log.warn({ err }, 'closing a spool segment failed'));
    if (this.segments[0] === previous && this.readOffset >= previous.end) await this.runReader(() => this.settleHead());
  }

  // ---------------------------------------------------------------- reader side

  /** The oldest unacknowledged record (the same one until it is acknowledged), or null. */
  next(): Promise<SpoolRecord | null> {
    if (this.closing !== null) return Promise.reject(new SpoolError('spool_closed'));
    return this.runReader(async () => {
      for (;;) {
        await this.settleHead();
        const head = this.head;
        if (head === null) return null;
        if (this.headRecord !== null) return this.headRecord;
        const segment = this.segments[0] as Segment;
        const payload = Buffer.allocUnsafe(head.length);
        const got = await readFully(await segment.reader(), payload, this.readOffset + REC_HEADER_BYTES);
        if (got === head.length && (await crc32Sliced(payload)) === head.payloadCrc) {
          this.headRecord = { id: head.id, payload, appendedAt: head.appendedAt };
          return this.headRecord;
        }
        // Verified at start-up or written by us, and bad now: the disk changed it. Skip it.
        this.dropDamagedHead(segment, head);
      }
    });
  }

  /**
   * Records that `id`, the record next() returned, is durably elsewhere. Acknowledging an
   * id already acknowledged does nothing; any other id rejects with spool_ack_out_of_order.
   */
  acknowledge(id: SpoolRecord['id']): Promise<void> {
    if (this.closing !== null) return Promise.reject(new SpoolError('spool_closed'));
    return this.runReader(async () => {
      if (id <= this.ackedId) return;
      await this.settleHead();
      const head = this.head;
      if (head === null || id !== head.id) {
        throw new SpoolError('spool_ack_out_of_order', { detail: `Got ${id}, the oldest unacknowledged is ${head?.id ?? 'none'}.` });
      }
      const segment = this.segments[0] as Segment;
      this.readOffset += REC_HEADER_BYTES + head.length;
      segment.unacked--;
      this.records--;
      this.ackedId = id;
      this.head = null;
      this.headRecord = null;
      await this.cursor.write(id);
      await this.settleHead();
    });
  }

  /**
   * Brings the read position to the next record: past damaged ranges, and out of consumed
   * segments, deleting them. Then reads that record's header (for next() and for
   * stats().oldestAppendedAt). Runs on the reader chain only.
   */
  private async settleHead(): Promise<void> {
    for (;;) {
      const segment = this.segments[0] as Segment;
      for (let skipTo = segment.skips?.get(this.readOffset); skipTo !== undefined; skipTo = segment.skips?.get(this.readOffset)) {
        this.readOffset = skipTo;
      }
      if (this.readOffset < segment.end || segment === this.active) break;
      this.segments.shift();
      this.readOffset = (this.segments[0] as Segment).start;
      await this.reclaim(segment);
    }
    if (this.head !== null) return;
    const segment = this.segments[0] as Segment;
    if (this.readOffset >= segment.end) return;
    const handle = await segment.reader();
    const bytes = new Uint8Array(REC_HEADER_BYTES);
    const header = (await readFully(handle, bytes, this.readOffset)) === REC_HEADER_BYTES ? decodeRecordHeader(bytes) : null;
    if (header !== null && header.id > this.ackedId && header.length <= segment.end - this.readOffset - REC_HEADER_BYTES) {
      this.head = header;
      return;
    }
    await this.resyncAfterDamage(segment, handle);
    return this.settleHead();
  }

  /** A header went bad on disk under the read position: skip to the next good record. */
  private async resyncAfterDamage(segment: Segment, handle: FileHandle): Promise<void> {
    // end and unacked change together, synchronously, so this snapshot is consistent.
    const limit = segment.end;
    const unackedBefore = segment.unacked;
    const from = this.readOffset;
    let good = 0;
    const result = await this.scanner.scan(handle, from, limit, this.ackedId, () => good++);
    const ranges = result.tail === null ? result.skipped : [...result.skipped, result.tail];
    let bytes = 0;
    for (const range of ranges) {
      (segment.skips ??= new Map()).set(range.start, range.end);
      bytes += range.end - range.start;
    }
    const lostRecords = unackedBefore - good;
    segment.unacked -= lostRecords;
    this.records -= lostRecords;
    this.corruptRecords += ranges.length;
    this.corruptBytes += bytes;
    this.log.warn({ segment: segment.path, offset: from, bytes, lostRecords }, 'spool record header damaged on disk: skipped to the next good record');
  }

  /** The head record's payload failed its CRC: step over it by its (CRC-checked) header's length. */
  private dropDamagedHead(segment: Segment, head: RecordHeader): void {
    const bytes = REC_HEADER_BYTES + head.length;
    this.log.warn({ segment: segment.path, offset: this.readOffset, bytes, id: head.id }, 'spool record failed its checksum on read: skipped');
    this.readOffset += bytes;
    segment.unacked--;
    this.records--;
    this.corruptRecords++;
    this.corruptBytes += bytes;
    this.head = null;
    this.headRecord = null;
  }

  /** Deletes a consumed segment. The cursor is made durable first, so its records cannot come back after a power loss. */
  private async reclaim(segment: Segment): Promise<void> {
    try {
      await this.cursor.sync();
      await segment.closeReader();
      await unlink(segment.path);
    } catch (err) {
      this.log.error({ err, segment: segment.path }, 'deleting a consumed spool segment failed; it is deleted at the next start');
    } finally {
      this.totalBytes -= segment.end;
      if (this.replacing === segment) this.replacing = null;
    }
  }

  private runReader<T>(task: () => Promise<T>): Promise<T> {
    const run = this.readerChain.then(task);
    this.readerChain = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------- both

  stats(): SpoolStats {
    return {
      bytes: this.totalBytes,
      records: this.records,
      segments: this.segments.length + (this.spare === null ? 0 : 1),
      oldestAppendedAt: this.head?.appendedAt ?? null,
      corruptRecordsSkipped: this.corruptRecords,
      corruptBytesSkipped: this.corruptBytes,
    };
  }

  /** Finishes every append already made, then closes; the cursor is made durable. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    if (this.writing || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.runReader(async () => {
      await this.cursor.sync();
      await this.cursor.close();
      await this.activeHandle.close();
      await this.spare?.handle.close();
      for (const segment of this.segments) await segment.closeReader();
      await this.dirHandle.close();
    });
  }
}

function validateOptions(options: SpoolOptions): void {
  if (typeof options.dir !== 'string' || options.dir === '') throw new RangeError('spool dir must be a non-empty path');
  if (!Number.isSafeInteger(options.segmentBytes) || options.segmentBytes < MIN_SEGMENT_BYTES) {
    throw new RangeError(`spool segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}, got ${options.segmentBytes}`);
  }
  if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < MIN_SEGMENT_BYTES) {
    throw new RangeError(`spool maxBytes must be an integer >= ${MIN_SEGMENT_BYTES}, got ${options.maxBytes}`);
  }
}
