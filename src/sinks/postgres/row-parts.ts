import { TABLES, type CopyBatch, type TableName } from './batch.js';
import type { RequestPart } from './request-parts.js';

/**
 * A batch cut into single rows, for a batch that does not know its requests (a replayed spool
 * batch): rows, not requests, are then what bisecting keeps or sets aside. A text row ends
 * at its LF (COPY text escapes any LF inside a value); a binary row is an int16 field count,
 * then per field an int32 length (-1 for NULL) and that many bytes.
 */
export function rowParts(batch: CopyBatch): RequestPart[] {
  const parts: RequestPart[] = [];
  for (const table of TABLES) {
    const binary = batch.formats[table] === 'binary';
    for (const chunk of batch.chunks[table]) {
      let at = 0;
      while (at < chunk.byteLength) {
        const end = binary ? binaryRowEnd(chunk, at) : textRowEnd(chunk, at);
        parts.push(single(table, chunk.subarray(at, end), parts.length));
        at = end;
      }
    }
  }
  return parts;
}

function textRowEnd(chunk: Uint8Array, at: number): number {
  const lf = chunk.indexOf(0x0a, at);
  return lf === -1 ? chunk.byteLength : lf + 1;
}

function binaryRowEnd(chunk: Uint8Array, at: number): number {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const fields = view.getInt16(at);
  let p = at + 2;
  for (let f = 0; f < fields; f++) {
    const len = view.getInt32(p);
    p += 4 + Math.max(len, 0);
  }
  return p;
}

function single(table: TableName, row: Uint8Array, position: number): RequestPart {
  const empty = new Uint8Array(0);
  const chunks: Record<TableName, Uint8Array> = { agent_interactions: empty, agent_telemetry: empty, gateway_telemetry: empty };
  const rows: Record<TableName, number> = { agent_interactions: 0, agent_telemetry: 0, gateway_telemetry: 0 };
  chunks[table] = row;
  rows[table] = 1;
  return { task: -1, position, chunks, rows };
}
