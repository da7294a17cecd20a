/**
 * Helpers for the codec tests: COPY text and binary parsers (the inverses of
 * copy-text-writer.ts and copy-binary-writer.ts, written independently from the PostgreSQL
 * docs), event factories and body encoders.
 */
import { Packr } from 'msgpackr';
import { base58Encode, Endpoint } from '../../src/protocol/index.js';
import {
  BodyKind,
  COPY_COLUMNS,
  COPY_FORMATS,
  RowBatch,
  decodeAndEncode,
  type BodyResult,
  type EventContext,
} from '../../src/codec/index.js';

/** A deterministic agent id: base58 of 32 bytes, as X-MachPay-Agent carries it. */
export function agentId(seed = 1): string {
  return base58Encode(new Uint8Array(32).fill(seed));
}
export const AGENT = agentId(7);
export const TENANT = 'tenant-1';

export const agentCtx: EventContext = { endpoint: Endpoint.Agent, agentId: AGENT, tenantId: null, maxEvents: 1000 };
export const ingestCtx: EventContext = { endpoint: Endpoint.Ingest, agentId: null, tenantId: TENANT, maxEvents: 1000 };

/**
 * Parses COPY text format rows: TAB-separated, LF-terminated, `\N` = NULL, backslash
 * escapes undone. `strict` (our writer's output) allows only the four escapes we write;
 * otherwise PostgreSQL's full set (COPY TO also writes \b \f \v) is decoded.
 */
export function parseCopyText(bytes: Uint8Array, strict = true): (string | null)[][] {
  const text = Buffer.from(bytes).toString('utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('COPY text must end with a newline');
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', b: '\b', f: '\f', v: '\v' };
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) =>
      line.split('\t').map((field) => {
        if (field === '\\N') return null;
        return field.replace(/\\([0-7]{1,3}|x[0-9A-Fa-f]{1,2}|.)/g, (_, c: string) => {
          const plain = named[c];
          if (plain !== undefined && (!strict || 'nrt\\'.includes(c))) return plain;
          if (!strict && /^[0-7]/.test(c)) return String.fromCharCode(parseInt(c, 8));
          if (!strict && c.startsWith('x')) return String.fromCharCode(parseInt(c.slice(1), 16));
          throw new Error(`unexpected escape \\${c}`);
        });
      }),
    );
}

export type Table = keyof typeof COPY_COLUMNS;

/** Binary column types of the tables written in COPY binary, in COPY_COLUMNS order. */
type BinaryType = 'text' | 'int4' | 'int8' | 'bool' | 'timestamptz';
const BINARY_TYPES: Partial<Record<Table, readonly BinaryType[]>> = {
  // time, agent_id, vendor_id, request_url, request_method, amount_atomic, token_mint,
  // nonce, success, latency_ms, error_type, error_message, signature
  agent_interactions: ['timestamptz', 'text', 'text', 'text', 'text', 'int8', 'text', 'int8', 'bool', 'int4', 'text', 'text', 'text'],
};

/** µs since 2000-01-01 UTC → `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, the text writer's form. */
function timestampText(us: bigint): string {
  const epochMs = 946684800000n + (us < 0n ? (us - 999n) / 1000n : us / 1000n);
  const micros = Number(((us % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const iso = new Date(Number(epochMs)).toISOString(); // years 0001..9999: YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${micros === 0 ? '' : `.${String(micros).padStart(6, '0')}`}+00`;
}

/**
 * Parses COPY binary rows (no file header or trailer, as the writer produces them) into the
 * text each value has in COPY text from our text writer, so tests read either format alike.
 */
export function parseCopyBinary(bytes: Uint8Array, types: readonly BinaryType[]): (string | null)[][] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: (string | null)[][] = [];
  let at = 0;
  while (at < buf.length) {
    const count = buf.readInt16BE(at);
    at += 2;
    if (count !== types.length) throw new Error(`row with ${count} fields, expected ${types.length}`);
    const row: (string | null)[] = [];
    for (const type of types) {
      const length = buf.readInt32BE(at);
      at += 4;
      if (length === -1) {
        row.push(null);
        continue;
      }
      const value = buf.subarray(at, at + length);
      at += length;
      const expected = { int4: 4, int8: 8, bool: 1, timestamptz: 8, text: length }[type];
      if (length !== expected) throw new Error(`${type} field of ${length} bytes`);
      if (type === 'text') row.push(new TextDecoder('utf-8', { fatal: true }).decode(value));
      else if (type === 'int4') row.push(String(value.readInt32BE(0)));
      else if (type === 'int8') row.push(String(value.readBigInt64BE(0)));
      else if (type === 'bool') row.push(value[0] === 1 ? 't' : value[0] === 0 ? 'f' : `bad bool ${String(value[0])}`);
      else row.push(timestampText(value.readBigInt64BE(0)));
    }
    rows.push(row);
  }
  return rows;
}

/** A table's rows as text fields, whichever COPY format its writer uses. */
export function parseRows(table: Table, bytes: Uint8Array, strict = true): (string | null)[][] {
  const types = BINARY_TYPES[table];
  if (COPY_FORMATS[table] === 'binary') {
    if (types === undefined) throw new Error(`${table}: no binary column types`);
    return parseCopyBinary(bytes, types);
  }
  return parseCopyText(bytes, strict);
}

/** Rows of one table as objects keyed by column name. */
export function rowsOf(batch: RowBatch, table: Table): Record<string, string | null>[] {
  const writer = table === 'agent_interactions' ? batch.interactions : table === 'agent_telemetry' ? batch.telemetry : batch.gateway;
  const cols = COPY_COLUMNS[table];
  return parseRows(table, writer.bytes()).map((fields) => {
    if (fields.length !== cols.length) throw new Error(`${table}: ${fields.length} fields, expected ${cols.length}`);
    return Object.fromEntries(cols.map((c, i) => [c, fields[i] ?? null]));
  });
}

export function interaction(data: Record<string, unknown> = {}, attrs: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: 'evt-1',
    source: 'urn:machpay:sdk:test',
    type: 'com.machpay.agent.interaction.v1',
    time: '2026-01-31T12:00:00.123456Z',
    ...attrs,
    data: { agent_id: AGENT, vendor_id: 'vendor-a', nonce: 1, success: true, latency_ms: 12, ...data },
  };
}

export function telemetry(data: Record<string, unknown> = {}, attrs: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: 'tel-1',
    source: 'urn:machpay:sdk:test',
    type: 'com.machpay.agent.telemetry.v1',
    time: '2026-01-31T12:00:00Z',
    ...attrs,
    data: { agent_id: AGENT, period_start: 1769860800, period_end: 1769860860, ...data },
  };
}

export function gatewayRequest(data: Record<string, unknown> = {}, attrs: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: 'gw-1',
    source: 'https://gateway.example.com/gw-1',
    type: 'com.machpay.gateway.request.v1',
    time: '2026-01-31T12:00:00Z',
    ...attrs,
    data: { gateway_id: 'gw-1', vendor_id: 'vendor-a', route: '/api/x', method: 'GET', status_code: 200, latency_ms: 5, ...data },
  };
}

/** Marks an int64 to be serialised as a bare JSON number literal (exact, however large). */
export class RawJsonNumber {
  constructor(readonly text: string) {}
}

/** JSON.stringify, except RawJsonNumber values become bare number literals. */
export function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJsonNumber) {
      raws.push(v.text);
      return `\u0000RAW${raws.length - 1}\u0000`;
    }
    return v;
  });
  return text.replace(/"\\u0000RAW(\d+)\\u0000"/g, (_, i: string) => raws[Number(i)] as string);
}

export const packr = new Packr({ useRecords: false, variableMapSize: true });

export function jsonBytes(value: unknown): Uint8Array {
  return Buffer.from(toJson(value), 'utf8');
}

/** Runs decodeAndEncode on a fresh batch. */
export function run(
  body: Uint8Array | string,
  kind: BodyKind = BodyKind.JsonBatch,
  ctx: EventContext = agentCtx,
  binary: Parameters<typeof decodeAndEncode>[2] = null,
): { result: BodyResult; batch: RowBatch } {
  const batch = new RowBatch(1024);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { result: decodeAndEncode(bytes, kind, binary, ctx, batch), batch };
}

/** One event through the JSON batch path; returns the result and the rows of `table`. */
export function runOne(evt: unknown, table: Table, ctx: EventContext = agentCtx): { result: BodyResult; rows: Record<string, string | null>[] } {
  const { result, batch } = run(jsonBytes([evt]), BodyKind.JsonBatch, ctx);
  return { result, rows: rowsOf(batch, table) };
}

/** The single rejection message of a one-event result (throws if it was accepted). */
export function rejection(result: BodyResult): { code: string; message: string; id: string | null; index: number } {
  if (!result.ok) throw new Error(`body error ${result.code}: ${result.message}`);
  const r = result.rejected[0];
  if (r === undefined) throw new Error('event was accepted');
  return r;
}
