import type { Logger } from '../../logger.js';
import { FILE_HEADER_BYTES, REC_HEADER_BYTES } from './record-format.js';
import { recoverSpool } from './recovery.js';
import { SpoolError } from './spool-error.js';
import { SpoolFiles } from './spool-files.js';
import { SpoolReader, type SpoolRecord } from './spool-reader.js';
import { SpoolWriter, type AppendResult } from './spool-writer.js';

export interface SpoolOptions {
  /** Created if missing. Holds nothing but the spool's files. */
  dir: string;
  /** Bound on the spool's bytes on disk (segment files); an append that would pass it resolves 'full'. */
  maxBytes: number;
  /** A segment holding at least one record is closed, and a new one started, before it would pass this size. */
  segmentBytes: number;
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

const MIN_SEGMENT_BYTES = FILE_HEADER_BYTES + REC_HEADER_BYTES;

/**
 * The spool: a directory of append-only segment files plus a cursor file. Appends go
 * through the writer side (spool-writer.ts: group commit), reads and acknowledgements
 * through the reader side (spool-reader.ts: damage handling, segment reclaim); the two
 * share the segment list and its totals (spool-files.ts).
 *
 * When an acknowledged record can be replayed after a restart (PostgreSQL dedupes it):
 *  - after close(): never;
 *  - after a process crash (kill -9): only a record whose acknowledge() had not resolved;
 *  - after power loss or a kernel crash: also records acknowledged since the cursor was
 *    last fdatasync'ed, which happens before every segment deletion, so only records of
 *    the oldest segment still on disk (at most one segment's worth).
 */
export class Spool {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly files: SpoolFiles,
    private readonly writer: SpoolWriter,
    private readonly reader: SpoolReader,
    /** The bound on bytes on disk it was opened with (SpoolOptions.maxBytes), for capacity metrics. */
    readonly maxBytes: number,
  ) {}

  /**
   * Opens (or creates) the spool and recovers it (rules in recovery.ts). `log` is used as
   * given: pass the component's child logger. Damage never fails the open; I/O errors do.
   */
  static async open(options: SpoolOptions, log: Logger): Promise<Spool> {
    validateOptions(options);
    const recovered = await recoverSpool(options.dir, log);
    const files = new SpoolFiles(options.dir, recovered);
    const reader = new SpoolReader(files, recovered, log);
    const writer = new SpoolWriter(files, reader, options.maxBytes, options.segmentBytes, { id: recovered.nextId, segment: recovered.nextSegment }, log);
    // Segments left behind fully acknowledged (e.g. one whose file header was damaged) go now.
    await reader.run(() => reader.settleHead());
    return new Spool(files, writer, reader, options.maxBytes);
  }

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
    return this.writer.append(payload);
  }

  /** The oldest unacknowledged record (the same one until it is acknowledged), or null. */
  next(): Promise<SpoolRecord | null> {
    if (this.closing !== null) return Promise.reject(new SpoolError('spool_closed'));
    return this.reader.next();
  }

  /**
   * Records that `id`, the record next() returned, is durably elsewhere. Acknowledging an
   * id already acknowledged does nothing; any other id rejects with spool_ack_out_of_order.
   */
  acknowledge(id: SpoolRecord['id']): Promise<void> {
    if (this.closing !== null) return Promise.reject(new SpoolError('spool_closed'));
    return this.reader.acknowledge(id);
  }

  /** A write or sync failed (spool_failed): every append fails until the spool is reopened. */
  get failed(): boolean {
    return this.writer.failed;
  }

  stats(): SpoolStats {
    const f = this.files;
    return {
      bytes: f.totalBytes,
      records: f.records,
      segments: f.segments.length + (this.writer.hasSpare ? 1 : 0),
      oldestAppendedAt: this.reader.oldestAppendedAt,
      corruptRecordsSkipped: f.corruptRecords,
      corruptBytesSkipped: f.corruptBytes,
    };
  }

  /** Finishes every append already made, then closes; the cursor is made durable. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    await this.writer.whenIdle();
    await this.reader.run(async () => {
      await this.reader.closeFiles();
      await this.writer.closeFiles();
      for (const segment of this.files.segments) await segment.closeReader();
      await this.files.dirHandle.close();
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
