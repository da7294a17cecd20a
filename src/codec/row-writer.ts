/**
 * What the event encoders write a row through: COPY text (copy-text-writer.ts) or COPY
 * binary (copy-binary-writer.ts). Each field method writes one column value; `endRow`
 * closes the row; `mark`/`rollback` forget the rows of an event or request that turned out
 * invalid (a mark is taken between rows).
 */
export interface RowWriter {
  readonly rows: number;
  readonly byteLength: number;
  bytes(): Uint8Array;
  reset(): void;
  mark(): number;
  rollback(mark: number, rows?: number): void;
  nullField(): void;
  /** Writes `s` and returns true when it is ASCII needing no further check; otherwise writes nothing. */
  tryAsciiField(s: string): boolean;
  /** A storable string (pg-text.ts) without backslash, TAB, LF or CR. */
  plainTextField(s: string): void;
  /** Any storable string. */
  textField(s: string): void;
  /** A safe integer of the column's integer type. */
  intField(n: number): void;
  /** An int64 from int64.ts: a safe integer, or a canonical decimal string. */
  int64Field(v: number | string): void;
  boolField(b: boolean): void;
  floatField(x: number): void;
  /** A UTC instant, years 0001..9999. */
  timestampField(seconds: number, micros: number): void;
  endRow(): void;
}
