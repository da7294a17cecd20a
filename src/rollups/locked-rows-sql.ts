/**
 * The read-merge-write statements of one rollup table, for any key: create the missing rows
 * empty, lock every row of the batch and read it, write the merged values back. Both the
 * insert and the lock go in primary-key order, so transactions touching overlapping rows of
 * the same tables (folders on several receivers) queue behind each other instead of
 * deadlocking. Every value travels as one array per column (unnest), text for exactness.
 */
export interface RollupTableShape {
  name: string;
  /** Primary-key columns in key order; `bucket` is a timestamptz, the others text. */
  keys: readonly string[];
  /** Value columns the merge writes, with their SQL types. */
  values: readonly (readonly [column: string, type: string])[];
  /** Columns read back under the lock (besides the keys), as select-list expressions. */
  read: string;
  /** SET clause extras, e.g. `updated_at = now()`. */
  touch?: string;
}

export interface LockedRowsSql {
  placeholders: string;
  lock: string;
  update: string;
}

export function lockedRowsSql(t: RollupTableShape): LockedRowsSql {
  const keyList = t.keys.join(', ');
  const keyParams = t.keys.map((k, i) => `$${i + 1}::${k === 'bucket' ? 'timestamptz' : 'text'}[]`).join(', ');
  const n = t.keys.length;
  const valueParams = t.values.map(([, type], i) => `$${n + i + 1}::${type}[]`).join(', ');
  const keyReads = t.keys.map((k) => (k === 'bucket' ? `(extract(epoch FROM t.bucket) * 1000)::bigint::text AS bucket` : `t.${k}`)).join(', ');
  return {
    placeholders: `INSERT INTO ${t.name} (${keyList}) SELECT ${keyList} FROM unnest(${keyParams}) AS k(${keyList}) ORDER BY ${keyList} ON CONFLICT DO NOTHING`,
    lock: `SELECT ${keyReads}, ${t.read}
           FROM ${t.name} AS t JOIN unnest(${keyParams}) AS k(${keyList}) USING (${keyList})
           ORDER BY ${t.keys.map((k) => `t.${k}`).join(', ')} FOR UPDATE OF t`,
    update: `UPDATE ${t.name} AS t SET ${t.values.map(([c]) => `${c} = v.${c}`).join(', ')}${t.touch === undefined ? '' : `, ${t.touch}`}
             FROM unnest(${keyParams}, ${valueParams}) AS v(${keyList}, ${t.values.map(([c]) => c).join(', ')})
             WHERE ${t.keys.map((k) => `t.${k} = v.${k}`).join(' AND ')}`,
  };
}

/** The key of a row as the lock statement reads it back (bucket as epoch ms), joined. */
export function lockedRowKey(values: readonly string[]): string {
  return values.join('\u0000');
}
