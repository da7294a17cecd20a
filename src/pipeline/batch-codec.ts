import type { CopyFormat } from '../codec/index.js';
import { type CopyBatch, emptyBatch, TABLES } from '../sinks/postgres/index.js';

/**
 * A COPY batch as one spool record: a small JSON header (row and byte counts and COPY
 * format per table, the agents to register), then each table's COPY rows back to back.
 * Replaying it is the same transaction as writing it live, so duplicates are stored once
 * either way. Version 1 records (no formats) hold COPY text only.
 *
 *   u32 header length | header JSON | table 1 bytes | table 2 bytes | …
 */
interface Header {
  v: 1 | 2;
  rows: Record<string, number>;
  bytes: Record<string, number>;
  formats?: Record<string, CopyFormat>;
  agents: string[];
}

export function encodeBatch(batch: CopyBatch): Uint8Array {
  const header: Header = { v: 2, rows: {}, bytes: {}, formats: batch.formats, agents: batch.newAgents };
  let total = 0;
  for (const t of TABLES) {
    const n = batch.chunks[t].reduce((sum, c) => sum + c.byteLength, 0);
    header.rows[t] = batch.rows[t];
    header.bytes[t] = n;
    total += n;
  }
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(4 + head.length + total);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  let at = 4 + head.length;
  for (const t of TABLES) {
    for (const c of batch.chunks[t]) {
      out.set(c, at);
      at += c.byteLength;
    }
  }
  return out;
}

export function decodeBatch(record: Uint8Array): CopyBatch {
  const buf = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  const headLength = buf.readUInt32LE(0);
  const header = JSON.parse(buf.toString('utf8', 4, 4 + headLength)) as Header;
  if (header.v !== 1 && header.v !== 2) throw new Error(`unknown spool batch version ${String(header.v)}`);
  const batch = emptyBatch();
  let at = 4 + headLength;
  for (const t of TABLES) {
    const n = header.bytes[t] ?? 0;
    if (n > 0) batch.chunks[t].push(record.subarray(at, at + n));
    batch.rows[t] = header.rows[t] ?? 0;
    batch.formats[t] = header.formats?.[t] ?? 'text';
    at += n;
  }
  if (at !== record.byteLength) throw new Error('spool batch length mismatch');
  batch.newAgents = header.agents;
  // What a replay inserts is known only from PostgreSQL: the staging path reports it.
  batch.groups = null;
  return batch;
}
