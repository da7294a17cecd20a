import { describe, expect, it } from 'vitest';
import { BodyKind } from '../../../src/codec/index.js';
import { recordSize, TaskProcessor, writeRecordHeader, type RecordHeader, type WorkerSettings } from '../../../src/pipeline/worker/index.js';
import { Endpoint } from '../../../src/protocol/index.js';
import { RingBuffer } from '../../../src/ring/index.js';
import { encodeJsonBatch, gatewayEvent, rfc3339 } from '../../helpers/agent.js';

/**
 * docs/protocol.md §2 in the worker: the window follows the receiver's clock at each task
 * and the limits the worker was started with (EVENT_MAX_AGE_SECONDS, EVENT_MAX_FUTURE_SECONDS).
 */

const ring = RingBuffer.create(1 << 20);

function processorAt(clock: { now: number }, limits?: WorkerSettings['eventTimeLimits']): TaskProcessor {
  const settings: WorkerSettings = { ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: false };
  if (limits !== undefined) settings.eventTimeLimits = limits;
  return new TaskProcessor(settings, () => clock.now);
}

/** One gateway request of events at these times; returns its status and body. */
function send(p: TaskProcessor, times: Date[]): { status: number; body: { accepted?: number; rejected?: { index: number; code: string; message: string }[] } } {
  const body = encodeJsonBatch(times.map((t) => gatewayEvent({ time: rfc3339(t) })));
  const header: RecordHeader = { endpoint: Endpoint.Ingest, kind: BodyKind.JsonBatch, gzip: false, bodyLength: body.length, signingPrefix: '', publicKey: null, signature: null, agentId: '', tenantId: 'acme', attributes: null };
  const position = ring.reserve(recordSize(header));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  buf.set(body, writeRecordHeader(buf, header));
  ring.publish(position);
  const out = p.run({ positions: [position] });
  ring.release(position);
  return { status: out.statuses[0] as number, body: JSON.parse(out.bodies[0] as string) as never };
}

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const DAY = 86_400_000;

describe('event-time window (worker)', () => {
  it('defaults to 35 days before and 5 minutes after its clock, both ends included', () => {
    const clock = { now: NOW };
    const p = processorAt(clock);
    const r = send(p, [new Date(NOW - 35 * DAY), new Date(NOW + 300_000), new Date(NOW - 35 * DAY - 1), new Date(NOW + 300_001)]);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected?.map((x) => [x.index, x.code])).toEqual([
      [2, 'invalid_event'],
      [3, 'invalid_event'],
    ]);
    expect(r.body.rejected?.[0]?.message).toMatch(/^time: /);
    // Every event outside: the request as a whole is 400 no_valid_events.
    expect(send(p, [new Date(NOW - 40 * DAY)]).status).toBe(400);
  });

  it('reads the clock at every task', () => {
    const clock = { now: NOW };
    const p = processorAt(clock);
    const soon = new Date(NOW + 10 * 60_000);
    expect(send(p, [soon]).status).toBe(400);
    clock.now = NOW + 6 * 60_000;
    expect(send(p, [soon]).status).toBe(202);
  });

  it('takes its limits from the settings it starts with', () => {
    const clock = { now: NOW };
    const p = processorAt(clock, { maxAgeMs: 3_600_000, maxFutureMs: 1000 });
    expect(send(p, [new Date(NOW - 3_600_000), new Date(NOW + 1000)]).body.accepted).toBe(2);
    expect(send(p, [new Date(NOW - 3_600_001)]).status).toBe(400);
    expect(send(p, [new Date(NOW + 1001)]).status).toBe(400);
    expect(send(p, [new Date(NOW - 2 * DAY)]).body.rejected?.[0]?.message).toMatch(/between 1 hour before and 1 second after/);
  });
});
