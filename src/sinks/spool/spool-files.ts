import type { FileHandle } from 'node:fs/promises';
import type { RecoveredSpool } from './recovery.js';
import type { Segment } from './segment-file.js';

/**
 * What the spool's writer and reader share: the segment files and the totals over them.
 * The writer appends to `active` and adds segments at the end; the reader consumes
 * `segments[0]` and deletes consumed segments from the front.
 */
export class SpoolFiles {
  readonly dir: string;
  readonly dirHandle: FileHandle;
  /** Oldest first; the last one is `active`, the one appended to. */
  readonly segments: Segment[];
  active: Segment;
  activeHandle: FileHandle;
  /** Sum of the segments' sizes (and of a prepared spare's header). */
  totalBytes = 0;
  /** Durable records not yet acknowledged. */
  records = 0;
  /** Damaged ranges skipped since open. */
  corruptRecords: number;
  corruptBytes: number;
  /** The fully acknowledged active segment a 'replace' append will delete; its bytes are already promised away. */
  replacing: Segment | null = null;

  constructor(dir: string, recovered: RecoveredSpool) {
    this.dir = dir;
    this.dirHandle = recovered.dirHandle;
    this.segments = recovered.segments;
    this.active = recovered.segments.at(-1) as Segment;
    this.activeHandle = recovered.activeHandle;
    for (const segment of this.segments) {
      this.totalBytes += segment.end;
      this.records += segment.unacked;
    }
    this.corruptRecords = recovered.corruptRecords;
    this.corruptBytes = recovered.corruptBytes;
  }
}
