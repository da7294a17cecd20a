import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ClickhouseRow } from './clickhouse-rows.js';

/**
 * One flush's ClickHouse rows as one spool record: a header line, then the rows as JSON
 * lines (the JSONEachRow shape they are inserted in). Rows keep their row_id, so a record
 * sent again after a lost response or a restart collapses under FINAL.
 *
 * Both directions yield to the event loop every few milliseconds: a flush of 15,000 keys is
 * ≈15 MB of JSON, and HTTP acks must not wait behind it.
 */
export interface SpooledBatch {
  rows: ClickhouseRow[];
  /** Requests the rows carry, for requestsDropped. */
  requests: number;
  /** Date.now() when the oldest key of the batch opened. */
  oldestOpenedAt: number;
}

const FORMAT = 1;
const SLICE_MS = 5;

interface Header {
  v: number;
  requests: number;
  oldestOpenedAt: number;
}

export async function encodeSpooledBatch(batch: SpooledBatch): Promise<Buffer> {
  const header: Header = { v: FORMAT, requests: batch.requests, oldestOpenedAt: Number.isFinite(batch.oldestOpenedAt) ? batch.oldestOpenedAt : Date.now() };
  const lines: string[] = [JSON.stringify(header)];
  let sliceStart = performance.now();
  for (const row of batch.rows) {
    lines.push(JSON.stringify(row));
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return Buffer.from(lines.join('\n'));
}

/** Throws on a payload this module did not write (the spool's CRCs make that a bug, not damage). */
export async function decodeSpooledBatch(payload: Uint8Array): Promise<SpooledBatch> {
  const lines = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8').split('\n');
  const header = JSON.parse(lines[0] ?? '') as Partial<Header>;
  if (header.v !== FORMAT || typeof header.requests !== 'number' || typeof header.oldestOpenedAt !== 'number') {
    throw new Error(`not a rollup spool record (format ${String(header.v)})`);
  }
  const rows: ClickhouseRow[] = [];
  let sliceStart = performance.now();
  for (let i = 1; i < lines.length; i++) {
    rows.push(JSON.parse(lines[i] as string) as ClickhouseRow);
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return { rows, requests: header.requests, oldestOpenedAt: header.oldestOpenedAt };
}
