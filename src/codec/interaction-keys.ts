/**
 * The natural keys of agent_interactions rows, as COPY binary rows of
 * `agent_interaction_keys (time, agent_id, nonce)` (schema/postgres/008_natural_keys.sql):
 * the sink COPYs them beside the rows, in the same transaction, so that PostgreSQL refuses an
 * agent's repeated nonce whatever its time (docs/protocol.md §5).
 *
 * Why here: cutting the key fields out of the finished binary rows is a copy of three length-
 * prefixed fields per row in the worker, where the rows are made; the main thread only adds
 * one more chunk to its COPY, and PostgreSQL checks the keys on a plain COPY rather than an
 * INSERT … SELECT from a staging table.
 */

/** Field positions in COPY_COLUMNS.agent_interactions. */
const TIME_FIELD = 0;
const AGENT_FIELD = 1;
const NONCE_FIELD = 7;

/** Field count, time, agent_id (VARCHAR(64): at most 256 UTF-8 bytes), nonce, each field with its length. */
const MAX_KEY_ROW_BYTES = 2 + (4 + 8) + (4 + 256) + (4 + 8);

/** The key columns, in the order of the key rows' fields. */
export const INTERACTION_KEY_COLUMNS = ['time', 'agent_id', 'nonce'] as const;

/**
 * Key rows of `rows` (COPY binary agent_interactions rows, no header or trailer), one per
 * row and in the same order. Every field it copies is NOT NULL in the table, so each has a
 * length ≥ 0.
 */
export function interactionKeyRows(rows: Uint8Array, rowCount: number): Uint8Array {
  if (rowCount === 0) return EMPTY;
  const src = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength);
  // Each key row is shorter than its source row, and at most MAX_KEY_ROW_BYTES long.
  const out = Buffer.allocUnsafe(Math.min(rows.byteLength, rowCount * MAX_KEY_ROW_BYTES));
  let p = 0;
  let at = 0;
  for (let r = 0; r < rowCount; r++) {
    const fields = src.readInt16BE(at);
    at += 2;
    let time = -1;
    let agent = -1;
    let nonce = -1;
    for (let f = 0; f < fields; f++) {
      const len = src.readInt32BE(at);
      if (f === TIME_FIELD) time = at;
      else if (f === AGENT_FIELD) agent = at;
      else if (f === NONCE_FIELD) nonce = at;
      at += 4 + Math.max(len, 0);
    }
    out.writeInt16BE(INTERACTION_KEY_COLUMNS.length, p);
    p += 2;
    p += copyField(src, time, out, p);
    p += copyField(src, agent, out, p);
    p += copyField(src, nonce, out, p);
  }
  return out.subarray(0, p);
}

/** Copies the length-prefixed field at `from` to `to`; returns the bytes written. */
function copyField(src: Buffer, from: number, out: Buffer, to: number): number {
  const n = 4 + src.readInt32BE(from);
  src.copy(out, to, from, from + n);
  return n;
}

const EMPTY = new Uint8Array(0);
