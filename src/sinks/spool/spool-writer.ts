import type { FileHandle } from 'node:fs/promises';
import { type Logger, ThrottledLog } from '../../logger.js';
import { CRC_SLICE_BYTES, crc32, crc32Sliced } from './crc32.js';
import { encodeRecordHeader, FILE_HEADER_BYTES, MAX_PAYLOAD_BYTES, REC_HEADER_BYTES, type RecordHeader } from './record-format.js';
import { createSegmentFile, type Segment, writeFully } from './segment-file.js';
import { SpoolError } from './spool-error.js';
import type { SpoolFiles } from './spool-files.js';

export type AppendResult = 'ok' | 'full';

/** What the writer tells the reader side (spool-reader.ts). */
export interface AppendListener {
  /** Records from `start` in `segment`, the first with `first` as its header, are durable. */
  appended(segment: Segment, start: number, first: RecordHeader): void;
  /** Appends moved on from `previous` to a new segment. */
  rolledPast(previous: Segment): Promise<void>;
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
const WRITE_FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * The writer side of the spool. append() plans the record's place synchronously (so 'full'
 * is exact and ids follow call order), then one write loop takes every ready append queued
 * behind the one in flight, writes them with one writev and makes them durable with one
 * fdatasync (group commit), and only then resolves them.
 */
export class SpoolWriter {
  private readonly writeFailures: ThrottledLog;
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
  private failure: unknown = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly f: SpoolFiles,
    private readonly reader: AppendListener,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    next: { id: number; segment: number },
    private readonly log: Logger,
  ) {
    this.writeFailures = new ThrottledLog(log, WRITE_FAILURE_LOG_INTERVAL_MS);
    this.nextId = next.id;
    this.nextSegment = next.segment;
    this.plannedTail = f.active.end;
  }

  /** A write or sync failed: every append fails until the spool is reopened. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Whether a spare segment file is prepared (it counts among the spool's segments). */
  get hasSpare(): boolean {
    return this.spare !== null;
  }

  /** Spool.append without the closed check: the promise it keeps is described there. */
  append(payload: Uint8Array): Promise<AppendResult> {
    if (this.failure !== null) return Promise.reject(new SpoolError('spool_failed', { cause: this.failure }));
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      return Promise.reject(new RangeError(`spool payload of ${payload.byteLength} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`));
    }
    const recordBytes = REC_HEADER_BYTES + payload.byteLength;
    let placement: Placement = this.plannedTail > FILE_HEADER_BYTES && this.plannedTail + recordBytes > this.segmentBytes ? 'roll' : 'same';
    let plannedBytes = placement === 'roll' ? FILE_HEADER_BYTES + recordBytes : recordBytes;
    const planned = this.f.totalBytes + this.queuedBytes - (this.f.replacing?.end ?? 0);
    if (planned + plannedBytes > this.maxBytes) {
      // Everything is acknowledged, but the active segment still holds it and is only
      // reclaimed once it is no longer active: start a new one in its place.
      const canReplace = this.f.records === 0 && !this.writing && this.queue.length === 0 && this.f.replacing === null;
      plannedBytes = FILE_HEADER_BYTES + recordBytes;
      if (!canReplace || this.f.active.end <= FILE_HEADER_BYTES || planned - this.f.active.end + plannedBytes > this.maxBytes) {
        return Promise.resolve('full');
      }
      placement = 'replace';
      this.f.replacing = this.f.active;
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
      this.plannedTail = this.f.active.end;
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
        } else if (this.f.replacing === this.f.active) {
          this.f.replacing = null;
        }
        this.writeFailures.warn({ err }, 'spool could not start a new segment; batch rejected');
        for (const entry of batch) this.settleFailed(entry, new SpoolError('spool_write_failed', { cause: err }));
        return;
      }
    }
    const segment = this.f.active;
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
    const outcome = await this.writeDurably(this.f.activeHandle, buffers, start);
    if (spareJob !== null) await spareJob;
    if (outcome !== 'ok') {
      for (const entry of batch) this.settleFailed(entry, outcome);
      return;
    }
    segment.end = start + bytes;
    segment.unacked += batch.length;
    this.f.totalBytes += bytes;
    this.f.records += batch.length;
    for (const entry of batch) this.queuedBytes -= entry.plannedBytes;
    this.reader.appended(segment, start, first.header);
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
    if (this.f.totalBytes + this.queuedBytes + FILE_HEADER_BYTES > this.maxBytes) return;
    this.f.totalBytes += FILE_HEADER_BYTES;
    try {
      this.spare = await createSegmentFile(this.f.dir, this.f.dirHandle, this.nextSegment++);
    } catch (err) {
      this.f.totalBytes -= FILE_HEADER_BYTES;
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
    const previous = this.f.active;
    const previousHandle = this.f.activeHandle;
    let next = this.spare;
    this.spare = null;
    if (next === null) {
      next = await createSegmentFile(this.f.dir, this.f.dirHandle, this.nextSegment++);
      this.f.totalBytes += FILE_HEADER_BYTES;
    }
    this.f.segments.push(next.segment);
    this.f.active = next.segment;
    this.f.activeHandle = next.handle;
    await previousHandle.close().catch((err: unknown) => this.log.warn({ err }, 'closing a spool segment failed'));
    await this.reader.rolledPast(previous);
  }

  /** Resolves once every append made so far has settled. */
  whenIdle(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Closes the writer's files; call once idle. */
  async closeFiles(): Promise<void> {
    await this.f.activeHandle.close();
    await this.spare?.handle.close();
  }
}
