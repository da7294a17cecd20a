/**
 * The read-merge-write statements of one rollup table, for any key: create the missing rows
 * empty, lock every row of the batch and read it, write the merged values back. Both the
 * insert and the lock go in primary-key order, so transactions touching overlapping rows of
 * the same tables (folders on several receivers) queue behind each other instead of
 * deadlocking.
 *
 * The rows travel as one JSON parameter (json_to_recordset), built with JSON.stringify: the
 * driver's own array parameters escape every element in JS, which took 10–70 ms of the main
 * thread per statement for a fold of a few thousand rows (histograms and vendor breakdowns
 * are kilobytes each). int64 and numeric values go as JSON strings, so they stay exact.
 */
export interface RollupTableShape {
  name: string;
  /** Primary-key columns in key order; `bucket` is a timestamptz, the others text. */
  keys: readonly string[];
  /** Value columns the merge writes, with their SQL types (`jsonb` values are passed as JSON text and embedded as is). */
  values: readonly (readonly [column: string, type: string])[];
  /** Columns read back under the lock (besides the keys), as select-list expressions. */
  read: string;
  /** SET clause extras, e.g. `updated_at = now()`. */
  touch?: string;
}

export interface LockedRowsSql {
  /** $1: keysJson(). */
  placeholders: string;
  /** $1: keysJson(). */
  lock: string;
  /** $1: takeRowsJson(). */
  update: string;
}

function keyType(k: string): string {
  return k === 'bucket' ? 'timestamptz' : 'text';
}

export function lockedRowsSql(t: RollupTableShape): LockedRowsSql {
  const keyList = t.keys.join(', ');
  const keyDefs = t.keys.map((k) => `${k} ${keyType(k)}`).join(', ');
  const valueDefs = t.values.map(([c, type]) => `${c} ${type}`).join(', ');
  const keyReads = t.keys.map((k) => (k === 'bucket' ? `(extract(epoch FROM t.bucket) * 1000)::bigint::text AS bucket` : `t.${k}`)).join(', ');
  return {
    placeholders: `INSERT INTO ${t.name} (${keyList}) SELECT ${keyList} FROM json_to_recordset($1::json) AS k(${keyDefs}) ORDER BY ${keyList} ON CONFLICT DO NOTHING`,
    lock: `SELECT ${keyReads}, ${t.read}
           FROM ${t.name} AS t JOIN json_to_recordset($1::json) AS k(${keyDefs}) USING (${keyList})
           ORDER BY ${t.keys.map((k) => `t.${k}`).join(', ')} FOR UPDATE OF t`,
    update: `UPDATE ${t.name} AS t SET ${t.values.map(([c]) => `${c} = v.${c}`).join(', ')}${t.touch === undefined ? '' : `, ${t.touch}`}
             FROM json_to_recordset($1::json) AS v(${keyDefs}, ${valueDefs})
             WHERE ${t.keys.map((k) => `t.${k} = v.${k}`).join(' AND ')}`,
  };
}

/**
 * Builds the JSON parameters of one table's statements row by row: `add(keys, values)` with
 * the key values in key order (bucket as an ISO string) and the value columns in order.
 */
export class LockedRowsJson {
  private keys = '';
  private rows = '';
  /** Rows added since the last takeRowsJson(). */
  rowCount = 0;
  private readonly keyNames: string[];
  private readonly valueNames: string[];
  private readonly raw: boolean[];

  constructor(t: RollupTableShape) {
    this.keyNames = t.keys.map((k) => JSON.stringify(k));
    this.valueNames = t.values.map(([c]) => JSON.stringify(c));
    this.raw = t.values.map(([, type]) => type === 'jsonb');
  }

  addKey(keyValues: readonly string[]): void {
    let obj = '';
    for (let i = 0; i < keyValues.length; i++) obj += `${i === 0 ? '' : ','}${this.keyNames[i]}:${JSON.stringify(keyValues[i])}`;
    this.keys += `${this.keys === '' ? '' : ','}{${obj}}`;
  }

  addRow(keyValues: readonly string[], values: readonly unknown[]): void {
    let obj = '';
    for (let i = 0; i < keyValues.length; i++) obj += `${i === 0 ? '' : ','}${this.keyNames[i]}:${JSON.stringify(keyValues[i])}`;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      obj += `,${this.valueNames[i]}:${v === null || v === undefined ? 'null' : this.raw[i] === true ? (v as string) : JSON.stringify(v)}`;
    }
    this.rows += `${this.rows === '' ? '' : ','}{${obj}}`;
    this.rowCount++;
  }

  keysJson(): string {
    return `[${this.keys}]`;
  }

  /** The rows added since the last call, as the update's parameter; starts a new set. */
  takeRowsJson(): string {
    const out = `[${this.rows}]`;
    this.rows = '';
    this.rowCount = 0;
    return out;
  }
}

/** The key of a row as the lock statement reads it back (bucket as epoch ms), joined. */
export function lockedRowKey(values: readonly string[]): string {
  return values.join('\u0000');
}
