import { describe, expect, it } from 'vitest';
import { BodyKind } from '../../../src/codec/index.js';
import { recordSize, TaskProcessor, writeRecordHeader, type RecordHeader } from '../../../src/pipeline/worker/index.js';
import { Endpoint, signingPrefix } from '../../../src/protocol/index.js';
import { RingBuffer } from '../../../src/ring/index.js';
import { generateKeypair, signAgentRequest, type BinaryModeHeaders } from '../../../src/sdk/index.js';
import { rfc3339 } from '../../helpers/agent.js';

/**
 * docs/protocol.md §3: in binary mode the ce-* headers are signed with the body, so a
 * captured request cannot be replayed with another time or id. The SDK signs, the worker
 * verifies records laid out as the HTTP route writes them.
 */

const ring = RingBuffer.create(1 << 20);
const processor = new TaskProcessor({ ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: false });

const ATTRIBUTES = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time'] as const;

interface Captured {
  headers: Record<string, string>;
  ce: BinaryModeHeaders;
  body: Uint8Array;
  publicKey: Uint8Array;
}

async function capture(): Promise<Captured> {
  const keypair = generateKeypair();
  const body = new TextEncoder().encode(
    JSON.stringify({ agent_id: keypair.agentId, vendor_id: 'v1', nonce: 7, success: true, latency_ms: 12 }),
  );
  const ce: BinaryModeHeaders = {
    'ce-specversion': '1.0',
    'ce-id': 'evt-1',
    'ce-source': `/agents/${keypair.agentId}`,
    'ce-type': 'com.machpay.agent.interaction.v1',
    'ce-time': rfc3339(),
  };
  const headers = await signAgentRequest(keypair, '/v1/agent', body, Date.now(), keypair.agentId, ce);
  return { headers, ce, body, publicKey: keypair.publicKey };
}

/** Publishes the request as the HTTP route would, with the ce-* values as received. */
function run(c: Captured, ce: Partial<BinaryModeHeaders>): { status: number; code: string; rows: number } {
  const header: RecordHeader = {
    endpoint: Endpoint.Agent,
    kind: BodyKind.Binary,
    gzip: false,
    bodyLength: c.body.length,
    signingPrefix: signingPrefix(c.headers['X-MachPay-Timestamp'] as string, '/v1/agent'),
    publicKey: c.publicKey,
    signature: Buffer.from(c.headers['X-MachPay-Signature'] as string, 'base64'),
    agentId: c.headers['X-MachPay-Agent'] as string,
    tenantId: '',
    attributes: ATTRIBUTES.map((h) => ce[h] ?? ''),
  };
  const position = ring.reserve(recordSize(header));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  buf.set(c.body, writeRecordHeader(buf, header));
  ring.publish(position);
  const out = processor.run({ positions: [position] });
  ring.release(position);
  return { status: out.statuses[0] as number, code: out.codes[0] as string, rows: out.interactionRows };
}

describe('binary-mode signature (worker)', () => {
  it('accepts the request as signed', async () => {
    const c = await capture();
    expect(run(c, c.ce)).toEqual({ status: 202, code: '', rows: 1 });
  });

  it.each(ATTRIBUTES)('refuses the captured request replayed with another %s', async (name) => {
    const c = await capture();
    const changed = { ...c.ce, [name]: name === 'ce-time' ? rfc3339(new Date(Date.now() - 60_000)) : `${c.ce[name] ?? ''}x` };
    expect(run(c, changed)).toEqual({ status: 401, code: 'bad_signature', rows: 0 });
  });

  it('signs an absent ce-time as empty: adding one, or dropping a signed one, is refused', async () => {
    const c = await capture();
    const { 'ce-time': time, ...withoutTime } = c.ce;
    const keypair = generateKeypair();
    const body = new TextEncoder().encode(JSON.stringify({ agent_id: keypair.agentId }));
    const headers = await signAgentRequest(keypair, '/v1/agent', body, Date.now(), keypair.agentId, withoutTime);
    const untimed: Captured = { headers, ce: withoutTime, body, publicKey: keypair.publicKey };
    // Signature holds, then the event itself is refused: time is required (§2).
    expect(run(untimed, withoutTime)).toMatchObject({ status: 400, code: 'no_valid_events' });
    expect(run(untimed, { ...withoutTime, 'ce-time': time as string })).toMatchObject({ status: 401, code: 'bad_signature' });
    expect(run(c, withoutTime)).toMatchObject({ status: 401, code: 'bad_signature' });
  });

  it('refuses a binary-mode request signed the v1 way (body only)', async () => {
    const c = await capture();
    const keypair = generateKeypair();
    const body = new TextEncoder().encode(JSON.stringify({ agent_id: keypair.agentId, vendor_id: 'v1', nonce: 8, success: true, latency_ms: 1 }));
    const headers = await signAgentRequest(keypair, '/v1/agent', body, Date.now(), keypair.agentId);
    const ce = { ...c.ce, 'ce-source': `/agents/${keypair.agentId}` };
    expect(run({ headers, ce, body, publicKey: keypair.publicKey }, ce)).toMatchObject({ status: 401, code: 'bad_signature' });
  });
});
