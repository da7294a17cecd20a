import { type FileHandle, unlink } from 'node:fs/promises';
import type { Logger } from '../../logger.js';
import type { AckCursor } from './ack-cursor.js';
import { crc32Sliced } from './crc32.js';
import { decodeRecordHeader, REC_HEADER_BYTES, type RecordHeader } from './record-format.js';
import type { RecoveredSpool } from './recovery.js';
import { readFully, type Segment } from './segment-file.js';
import { SegmentScanner } from './segment-scan.js';
import { SpoolError } from './spool-error.js';
import type { SpoolFiles } from './spool-files.js';
import type { AppendListener } from './spool-writer.js';

export interface SpoolRecord {
  /** Strictly increasing in append order, also across restarts. */
  id: number;
  payload: Uint8Array;
  /** When append() was called, ms since the epoch. */
  appendedAt: number;
}

/**
 * The reader side of the spool: next(), acknowledge() and segment reclaim run one at a time
 * on a promise chain. The read position only moves on acknowledge(), and only durable
 * records are read. A record or header found damaged on disk is skipped and counted.
 */
export class SpoolReader implements AppendListener {
  private readonly scanner = new SegmentScanner();
  private readonly cursor: AckCursor;
  private chain: Promise<unknown> = Promise.resolve();
  /** Position in segments[0] of the oldest unacknowledged record (or where it will be written). */
  private readOffset: number;
  /** That record's header, once read. */
  private head: RecordHeader | null;
  /** That record in full, once next() has read it; kept until it is acknowledged. */
  private headRecord: SpoolRecord | null = null;
  private ackedId: number;

  constructor(
    private readonly f: SpoolFiles,
    recovered: RecoveredSpool,
    private readonly log: Logger,
  ) {
    this.cursor = recovered.cursor;
    this.readOffset = recovered.readOffset;
    this.head = recovered.head?.header ?? null;
    this.ackedId = recovered.ackedId;
  }

  /** appendedAt of the oldest unacknowledged record, when its header has been read. */
  get oldestAppendedAt(): number | null {
    return this.head?.appendedAt ?? null;
  }

  appended(segment: Segment, start: number, first: RecordHeader): void {
    if (this.head !== null) return;
    if (this.f.segments[0] === segment && this.readOffset === start) this.head = first;
    else this.run(() => this.settleHead()).catch((err: unknown) => this.log.error({ err }, 'spool reader failed'));
  }

  async rolledPast(previous: Segment): Promise<void> {
    if (this.f.segments[0] === previous && this.readOffset >= previous.end) await this.run(() => this.settleHead());
  }

  /** The oldest unacknowledged record (the same one until it is acknowledged), or null. */
  next(): Promise<SpoolRecord | null> {
    return this.run(async () => {
      for (;;) {
        await this.settleHead();
        const head = this.head;
        if (head === null) return null;
        if (this.headRecord !== null) return this.headRecord;
        const segment = this.f.segments[0] as Segment;
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
    return this.run(async () => {
      if (id <= this.ackedId) return;
      await this.settleHead();
      const head = this.head;
      if (head === null || id !== head.id) {
        throw new SpoolError('spool_ack_out_of_order', { detail: `Got ${id}, the oldest unacknowledged is ${head?.id ?? 'none'}.` });
      }
      const segment = this.f.segments[0] as Segment;
      this.readOffset += REC_HEADER_BYTES + head.length;
      segment.unacked--;
      this.f.records--;
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
  async settleHead(): Promise<void> {
    for (;;) {
      const segment = this.f.segments[0] as Segment;
      for (let skipTo = segment.skips?.get(this.readOffset); skipTo !== undefined; skipTo = segment.skips?.get(this.readOffset)) {
        this.readOffset = skipTo;
      }
      if (this.readOffset < segment.end || segment === this.f.active) break;
      this.f.segments.shift();
      this.readOffset = (this.f.segments[0] as Segment).start;
      await this.reclaim(segment);
    }
    if (this.head !== null) return;
    const segment = this.f.segments[0] as Segment;
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
    this.f.records -= lostRecords;
    this.f.corruptRecords += ranges.length;
    this.f.corruptBytes += bytes;
    this.log.warn({ segment: segment.path, offset: from, bytes, lostRecords }, 'spool record header damaged on disk: skipped to the next good record');
  }

  /** The head record's payload failed its CRC: step over it by its (CRC-checked) header's length. */
  private dropDamagedHead(segment: Segment, head: RecordHeader): void {
    const bytes = REC_HEADER_BYTES + head.length;
    this.log.warn({ segment: segment.path, offset: this.readOffset, bytes, id: head.id }, 'spool record failed its checksum on read: skipped');
    this.readOffset += bytes;
    segment.unacked--;
    this.f.records--;
    this.f.corruptRecords++;
    this.f.corruptBytes += bytes;
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
      this.f.totalBytes -= segment.end;
      if (this.f.replacing === segment) this.f.replacing = null;
    }
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Makes the cursor durable and closes the reader's files; run on the chain, once the writer is idle. */
  async closeFiles(): Promise<void> {
    await this.cursor.sync();
    await this.cursor.close();
  }
}
