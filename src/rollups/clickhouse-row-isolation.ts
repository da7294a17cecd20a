import { clickhouseDateTime } from './clickhouse-rows.js';
import { serverErrorCode, type ClickhouseOutcome, type ClickhouseRollupSink, type RejectedRow } from './clickhouse-sink.js';

/** A row of one outbox entry, as the outbox held it (it may be anything a corrupted entry holds). */
export interface OutboxRowRef {
  row: unknown;
  outboxId: string;
  /** Position in its outbox entry, for a row without a usable row_id. */
  index: number;
}

export type FailedOutcome = Extract<ClickhouseOutcome, { ok: false }>;

export interface IsolationResult {
  /** Rows ClickHouse took during the isolation. */
  sent: number;
  /** Rows ClickHouse refused on their own, to be parked. */
  rejected: RejectedRow[];
}

/** The isolation met a failure that is not the rows' (ClickHouse down, a table gone): every row stays in the outbox. */
export class IsolationAborted extends Error {
  constructor(readonly outcome: FailedOutcome) {
    super(outcome.error.message);
  }
}

/**
 * Finds the rows ClickHouse refuses in a batch that failed as a whole with `failure`: inserts
 * each half on its own, and splits a refused half again until the refused rows stand alone
 * (k bad rows among n cost about 2·k·log2(n) inserts; good rows go in on the way). Re-inserting
 * a row that already went in is harmless: its row_id collapses under FINAL.
 *
 * A row refused alone with a `permanent` error is the row's fault. One refused alone with a
 * `suspect` error (an error not known either way) is taken to be the row's fault only when
 * ClickHouse took another part of the batch, or when the batch is that one row: when every
 * part of a larger batch fails, the server is at fault and nothing is parked.
 */
export async function isolateRefusedRows(sink: ClickhouseRollupSink, rows: readonly OutboxRowRef[], failure: FailedOutcome): Promise<IsolationResult> {
  const result: IsolationResult = { sent: 0, rejected: [] };
  const suspects: { ref: OutboxRowRef; outcome: FailedOutcome }[] = [];
  const split = async (part: readonly OutboxRowRef[], outcome: FailedOutcome): Promise<void> => {
    if (part.length === 1) {
      const ref = part[0] as OutboxRowRef;
      if (outcome.kind === 'permanent') result.rejected.push(rejectedRow(ref, outcome.error));
      else suspects.push({ ref, outcome });
      return;
    }
    const mid = Math.ceil(part.length / 2);
    for (const half of [part.slice(0, mid), part.slice(mid)]) {
      const sent = await sink.insert(half.map((r) => r.row));
      if (sent.ok) result.sent += half.length;
      else if (sent.kind === 'permanent' || sent.kind === 'suspect') await split(half, sent);
      else throw new IsolationAborted(sent);
    }
  };
  await split(rows, failure);
  if (suspects.length > 0) {
    const first = suspects[0] as { outcome: FailedOutcome };
    if (result.sent === 0 && rows.length > 1) throw new IsolationAborted(first.outcome);
    for (const s of suspects) result.rejected.push(rejectedRow(s.ref, s.outcome.error));
  }
  return result;
}

/** The parked form of a row, keyed by its row_id so parking it twice collapses under FINAL. */
export function rejectedRow(ref: OutboxRowRef, error: Error, code: string | null = serverErrorCode(error)): RejectedRow {
  const row = ref.row;
  const rowId = typeof row === 'object' && row !== null && typeof (row as { row_id?: unknown }).row_id === 'string' ? (row as { row_id: string }).row_id : null;
  return {
    row_id: rowId ?? `outbox-${ref.outboxId}-${ref.index}`,
    row_json: JSON.stringify(row) ?? String(row),
    error_code: code ?? '',
    error: error.message.slice(0, 2_000),
    outbox_id: ref.outboxId,
    rejected_at: clickhouseDateTime(Date.now()),
  };
}
