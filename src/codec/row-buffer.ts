/**
 * The growable buffer both COPY writers (copy-text-writer.ts, copy-binary-writer.ts) fill:
 * one per table, reused across requests and emptied by the sink after each COPY.
 */
export abstract class RowBuffer {
  protected buf: Buffer;
  protected pos = 0;
  protected rowCount = 0;

  constructor(initialBytes: number) {
    // allocUnsafe: every byte below `pos` is written before it is read, so no zero-fill.
    this.buf = Buffer.allocUnsafe(Math.max(64, initialBytes));
  }

  /** Rows completed with `endRow()`. */
  get rows(): number {
    return this.rowCount;
  }

  get byteLength(): number {
    return this.pos;
  }

  /** The rows written so far: a view, valid until the next write or reset. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.rollback(0, 0);
  }

  /** A position to `rollback` to, e.g. the start of a row that may turn out invalid. */
  mark(): number {
    return this.pos;
  }

  /** Forgets everything written after `mark`; `rows` is the row count to restore (default: unchanged). */
  rollback(mark: number, rows: number = this.rowCount): void {
    this.pos = mark;
    this.rowCount = rows;
  }

  /** Grows by doubling so appends are amortised O(1); the old contents are copied once per doubling. */
  protected ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
