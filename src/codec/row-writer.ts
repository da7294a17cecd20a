/**
 * What the event encoders write a row through: COPY text (copy-text-writer.ts) or COPY
 * binary (copy-binary-writer.ts). Each field method writes one column value; `endRow`
 * closes the row; `mark`/`rollback` forget the rows of an event or request that turned out
 * invalid (a mark is taken between rows).
 */
import type { RowBuffer } from './row-buffer.js';

export interface RowWriter extends Pick<RowBuffer, 'rows' | 'byteLength' | 'bytes' | 'reset' | 'mark' | 'rollback'> {
  nullField(): void;
  /** Writes `s` and returns true when it is ASCII needing no further check; otherwise writes nothing. */
  tryAsciiField(s: string): boolean;
  /** A storable string (pg-text.ts) without backslash, TAB, LF or CR. */
  plainTextField(s: string): void;
  /** Any storable string. */
  textField(s: string): void;
  /** A safe integer of an INT column (in text, also SMALLINT). */
  intField(n: number): void;
  /** An int64 from int64.ts: a safe integer, or a canonical decimal string. */
  int64Field(v: number | string): void;
  boolField(b: boolean): void;
  /** A UTC instant, years 0001..9999. */
  timestampField(seconds: number, micros: number): void;
  endRow(): void;
}
