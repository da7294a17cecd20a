/**
 * A place in the stream's log (docs/read-api.md §4): the inserting transaction's id, the
 * source table's number, and the row's ordinal among that transaction's rows of that table
 * in primary-key order. Every receiver of one database computes the same position for the
 * same row, so a position read from one receiver's event id means the same on any other.
 */
export interface LogPosition {
  xid: bigint;
  source: number;
  ordinal: number;
}

/** Before every row of transaction `xid`. */
export function startOf(xid: bigint): LogPosition {
  return { xid, source: -1, ordinal: -1 };
}

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.xid !== b.xid) return a.xid < b.xid ? -1 : 1;
  if (a.source !== b.source) return a.source - b.source;
  return a.ordinal - b.ordinal;
}
