import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BodyKind } from '../../../src/codec/index.js';
import { recordSize, TaskProcessor, writeRecordHeader, type RecordHeader } from '../../../src/pipeline/worker/index.js';
import { Endpoint, ENDPOINTS, signingPrefix } from '../../../src/protocol/index.js';
import { RingBuffer } from '../../../src/ring/index.js';
import { encodeJsonBatch, gatewayEvent, interactionEvent, newAgent, signAgentRequest } from '../../helpers/agent.js';

/** The worker's job on its own: a TaskProcessor over a ring, fed records as the HTTP route writes them. */

const ring = RingBuffer.create(1 << 20);
const processor = new TaskProcessor({ ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: true });

function publish(header: Omit<RecordHeader, 'bodyLength'>, body: Uint8Array): number {
  const full: RecordHeader = { ...header, bodyLength: body.length };
  const position = ring.reserve(recordSize(full));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  buf.set(body, writeRecordHeader(buf, full));
  ring.publish(position);
  return position;
}

function agentRecord(body: Uint8Array, tamper = false): number {
  const agent = newAgent();
  const headers = signAgentRequest(agent, body);
  const signature = Buffer.from(headers['x-machpay-signature'], 'base64');
  if (tamper) signature[0] = (signature[0] as number) ^ 1;
  return publish(
    {
      endpoint: Endpoint.Agent,
      kind: BodyKind.JsonBatch,
      gzip: false,
      signingPrefix: signingPrefix(headers['x-machpay-timestamp'], ENDPOINTS[Endpoint.Agent].path),
      publicKey: agent.publicKey,
      signature,
      agentId: agent.agentId,
      tenantId: '',
      attributes: null,
    },
    body,
  );
}

describe('TaskProcessor (worker thread side)', () => {
  it('answers each request of a task in order: rows for the valid ones, a code and body for the others', () => {
    const agent = newAgent();
    const agentBody = encodeJsonBatch([interactionEvent(agent.agentId), interactionEvent(agent.agentId)]);
    const headers = signAgentRequest(agent, agentBody);
    const signed = publish(
      {
        endpoint: Endpoint.Agent,
        kind: BodyKind.JsonBatch,
        gzip: false,
        signingPrefix: signingPrefix(headers['x-machpay-timestamp'], '/v1/agent'),
        publicKey: agent.publicKey,
        signature: Buffer.from(headers['x-machpay-signature'], 'base64'),
        agentId: agent.agentId,
        tenantId: '',
        attributes: null,
      },
      agentBody,
    );
    const forged = agentRecord(encodeJsonBatch([interactionEvent(newAgent().agentId)]), true);
    const gateway = publish(
      { endpoint: Endpoint.Ingest, kind: BodyKind.JsonBatch, gzip: true, signingPrefix: '', publicKey: null, signature: null, agentId: '', tenantId: 'acme', attributes: null },
      gzipSync(encodeJsonBatch([gatewayEvent(), { type: 'com.machpay.agent.interaction.v1' } as never])),
    );

    const out = processor.run({ positions: [signed, forged, gateway] });
    expect(out.statuses).toEqual([202, 401, 202]);
    expect(out.codes).toEqual(['', 'bad_signature', '']);
    expect(JSON.parse(out.bodies[1] as string)).toEqual({ error: { code: 'bad_signature', message: expect.any(String) } });
    expect(JSON.parse(out.bodies[2] as string)).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'unknown_type' }] });
    expect({ interactions: out.interactionRows, telemetry: out.telemetryRows, gateway: out.gatewayRows }).toEqual({ interactions: 2, telemetry: 0, gateway: 1 });
    expect(out.interactions.byteLength).toBeGreaterThan(0);
    for (const p of [signed, forged, gateway]) ring.release(p);
  });
});
