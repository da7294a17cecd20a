import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BodyKind } from '../../../src/codec/index.js';
import { outputTransferList, recordSize, TaskProcessor, writeRecordHeader, type RecordHeader, type TaskOutput } from '../../../src/pipeline/worker/index.js';
import { Endpoint } from '../../../src/protocol/index.js';
import { RingBuffer } from '../../../src/ring/index.js';
import { encodeJsonBatch, gatewayEvent } from '../../helpers/agent.js';

/** A task's row buffers move to the main thread instead of being copied, and only those that are the output's own. */

const ring = RingBuffer.create(1 << 20);
const processor = new TaskProcessor({ ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: true });

function gatewayRecord(events: number): number {
  const body = encodeJsonBatch(Array.from({ length: events }, () => gatewayEvent()));
  const header: RecordHeader = { endpoint: Endpoint.Ingest, kind: BodyKind.JsonBatch, gzip: false, signingPrefix: '', publicKey: null, signature: null, agentId: '', tenantId: 'acme', attributes: null, bodyLength: body.length };
  const position = ring.reserve(recordSize(header));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  buf.set(body, writeRecordHeader(buf, header));
  ring.publish(position);
  return position;
}

/** What the main thread receives: the output posted with its transfer list, as Piscina posts it. */
function postAcross(out: TaskOutput): TaskOutput {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(out, outputTransferList(out));
  const received = receiveMessageOnPort(port2)?.message as TaskOutput;
  port1.close();
  return received;
}

describe('outputTransferList', () => {
  it('moves the rows, row ends and rollup groups of a task: the main thread gets the same bytes, the worker keeps none', () => {
    const positions = [gatewayRecord(3), gatewayRecord(2)];
    const out = processor.run({ positions });
    const sent = {
      gateway: Buffer.from(out.gateway).toString('hex'),
      ends: Array.from(out.requestRowEnds),
      nums: Array.from(out.groups.nums),
      latencies: Array.from(out.groups.latencies),
    };
    expect(out.gatewayRows).toBe(5);
    expect(out.groups.count).toBeGreaterThan(0);

    const received = postAcross(out);
    expect(Buffer.from(received.gateway).toString('hex')).toBe(sent.gateway);
    expect(Array.from(received.requestRowEnds)).toEqual(sent.ends);
    expect(Array.from(received.groups.nums)).toEqual(sent.nums);
    expect(Array.from(received.groups.latencies)).toEqual(sent.latencies);
    expect(received.gatewayRows).toBe(5);
    // Moved, not copied: the worker's views are detached.
    expect([out.gateway.byteLength, out.requestRowEnds.byteLength, out.groups.nums.byteLength, out.groups.latencies.byteLength]).toEqual([0, 0, 0, 0]);
    for (const p of positions) ring.release(p);
  });

  it('leaves the empty constants behind: the next task still has them', () => {
    const first = gatewayRecord(1);
    const out = processor.run({ positions: [first] });
    expect(out.interactions.byteLength).toBe(0);
    postAcross(out);
    ring.release(first);

    const second = gatewayRecord(1);
    const next = processor.run({ positions: [second] });
    // The same zero-length arrays as before: a detached one would still read 0, so check it is usable.
    expect(next.interactions).toBe(out.interactions);
    expect(() => new Uint8Array(next.interactions.buffer)).not.toThrow();
    expect(postAcross(next).gatewayRows).toBe(1);
    ring.release(second);
  });

  it('never moves a view into a larger buffer (a pooled Buffer): structured clone copies it instead', () => {
    const pooled = Buffer.from('row\n');
    expect(pooled.byteLength).toBeLessThan(pooled.buffer.byteLength);
    const out = processor.run({ positions: [] });
    out.gateway = pooled;
    expect(outputTransferList(out)).not.toContain(pooled.buffer);
    postAcross(out);
    expect(pooled.toString()).toBe('row\n');
  });
});
