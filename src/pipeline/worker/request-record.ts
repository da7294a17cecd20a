/**
 * The layout of one HTTP request inside a ring reservation: what the main thread learned
 * from the headers, then the bytes an agent signed, then the body as transmitted.
 *
 *   0   u8   endpoint          protocol Endpoint: 1 = /v1/agent, 2 = /v1/ingest
 *   1   u8   body kind         codec BodyKind
 *   2   u8   encoding          0 = identity, 1 = gzip
 *   3   u8   binary mode attrs present (0/1)
 *   4   u32  body length
 *   8   u32  offset of the signed bytes (the signing prefix, immediately followed by the body)
 *   12  u32  offset of the body
 *   16  32B  agent public key (raw Ed25519)
 *   48  64B  signature
 *   112 u8   agent id length, then 64 bytes of ASCII (base58)
 *   177 u8   tenant id length, then 64 bytes of ASCII
 *   242 u16  x 5 byte lengths of the binary-mode attributes (specversion, id, source, type, time)
 *   252      the attributes, UTF-8, then the signed prefix, then the body
 *
 * Putting the signed prefix right before the body makes the signed message one contiguous
 * slice of shared memory, so a worker verifies it without copying the body. For a binary-mode
 * agent request the signed prefix ends with the ce-* header lines (docs/protocol.md §3),
 * written here from the same values the worker decodes, so what is stored is what was signed.
 */
import { binaryModeSignedLines, Endpoint } from '../../protocol/index.js';

const OFF_ENDPOINT = 0;
const OFF_KIND = 1;
const OFF_ENCODING = 2;
const OFF_HAS_ATTRS = 3;
const OFF_BODY_LENGTH = 4;
const OFF_SIGNED = 8;
const OFF_BODY = 12;
const OFF_PUBLIC_KEY = 16;
const OFF_SIGNATURE = 48;
const OFF_AGENT_ID = 112;
const OFF_TENANT = 177;
const OFF_ATTR_LENGTHS = 242;
const HEADER_BYTES = 252;
const ID_CAPACITY = 64;

export const ATTRIBUTE_NAMES = ['specversion', 'id', 'source', 'type', 'time'] as const;

/** What the main thread knows about a request before its body arrives. */
export interface RecordHeader {
  endpoint: Endpoint;
  kind: number;
  gzip: boolean;
  bodyLength: number;
  /** `machpay-v1\n{timestamp}\n{path}\n` for agents (the binary-mode lines are added here), empty for gateways. */
  signingPrefix: string;
  publicKey: Uint8Array | null;
  signature: Uint8Array | null;
  agentId: string;
  tenantId: string;
  /** Binary-mode ce-* header values in ATTRIBUTE_NAMES order; `time` may be ''. */
  attributes: readonly string[] | null;
}

/**
 * The signed text in front of the body. Header values are Latin-1 strings from the HTTP
 * layer (one character per byte sent), so writing them back as Latin-1 gives the bytes sent.
 */
function signedPrefix(h: RecordHeader): string {
  if (h.endpoint !== Endpoint.Agent || h.attributes === null) return h.signingPrefix;
  return h.signingPrefix + binaryModeSignedLines(h.attributes);
}

/** Bytes to reserve for a request with this header (body included). */
export function recordSize(h: RecordHeader): number {
  let n = HEADER_BYTES + Buffer.byteLength(signedPrefix(h), 'latin1') + h.bodyLength;
  if (h.attributes !== null) for (const a of h.attributes) n += Buffer.byteLength(a, 'utf8');
  return n;
}

/** Writes the header; returns the offset where the body goes. `buf` views the reservation. */
export function writeRecordHeader(buf: Buffer, h: RecordHeader): number {
  if (h.agentId.length > ID_CAPACITY || h.tenantId.length > ID_CAPACITY) throw new RangeError('id longer than 64');
  buf[OFF_ENDPOINT] = h.endpoint;
  buf[OFF_KIND] = h.kind;
  buf[OFF_ENCODING] = h.gzip ? 1 : 0;
  buf[OFF_HAS_ATTRS] = h.attributes === null ? 0 : 1;
  buf.writeUInt32LE(h.bodyLength, OFF_BODY_LENGTH);
  if (h.publicKey !== null) buf.set(h.publicKey, OFF_PUBLIC_KEY);
  if (h.signature !== null) buf.set(h.signature, OFF_SIGNATURE);
  buf[OFF_AGENT_ID] = buf.write(h.agentId, OFF_AGENT_ID + 1, ID_CAPACITY, 'latin1');
  buf[OFF_TENANT] = buf.write(h.tenantId, OFF_TENANT + 1, ID_CAPACITY, 'latin1');
  let at = HEADER_BYTES;
  for (let i = 0; i < ATTRIBUTE_NAMES.length; i++) {
    const value = h.attributes?.[i] ?? '';
    const n = value.length === 0 ? 0 : buf.write(value, at, 'utf8');
    buf.writeUInt16LE(n, OFF_ATTR_LENGTHS + 2 * i);
    at += n;
  }
  buf.writeUInt32LE(at, OFF_SIGNED);
  at += buf.write(signedPrefix(h), at, 'latin1');
  buf.writeUInt32LE(at, OFF_BODY);
  return at;
}

/** A worker's read-only view of one record. */
export interface RecordView {
  endpoint: Endpoint;
  kind: number;
  gzip: boolean;
  publicKey: Buffer;
  signature: Buffer;
  agentId: string;
  tenantId: string;
  attributes: string[] | null;
  signed: Buffer;
  body: Buffer;
}

export function readRecord(buf: Buffer): RecordView {
  const bodyLength = buf.readUInt32LE(OFF_BODY_LENGTH);
  const signedAt = buf.readUInt32LE(OFF_SIGNED);
  const bodyAt = buf.readUInt32LE(OFF_BODY);
  let attributes: string[] | null = null;
  if (buf[OFF_HAS_ATTRS] === 1) {
    attributes = [];
    let at = HEADER_BYTES;
    for (let i = 0; i < ATTRIBUTE_NAMES.length; i++) {
      const n = buf.readUInt16LE(OFF_ATTR_LENGTHS + 2 * i);
      attributes.push(buf.toString('utf8', at, at + n));
      at += n;
    }
  }
  return {
    endpoint: buf[OFF_ENDPOINT] as Endpoint,
    kind: buf[OFF_KIND] as number,
    gzip: buf[OFF_ENCODING] === 1,
    publicKey: buf.subarray(OFF_PUBLIC_KEY, OFF_PUBLIC_KEY + 32),
    signature: buf.subarray(OFF_SIGNATURE, OFF_SIGNATURE + 64),
    agentId: buf.toString('latin1', OFF_AGENT_ID + 1, OFF_AGENT_ID + 1 + (buf[OFF_AGENT_ID] as number)),
    tenantId: buf.toString('latin1', OFF_TENANT + 1, OFF_TENANT + 1 + (buf[OFF_TENANT] as number)),
    attributes,
    signed: buf.subarray(signedAt, bodyAt + bodyLength),
    body: buf.subarray(bodyAt, bodyAt + bodyLength),
  };
}

/** Fills in the tenant once an API key lookup that outlived the body has resolved. */
export function writeRecordTenant(buf: Buffer, tenantId: string): void {
  if (tenantId.length > ID_CAPACITY) throw new RangeError('tenant id longer than 64');
  buf[OFF_TENANT] = buf.write(tenantId, OFF_TENANT + 1, ID_CAPACITY, 'latin1');
}
