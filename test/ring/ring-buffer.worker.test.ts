import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { POSITION_MASK, RING_LAYOUT, type RingBuffer } from '../../src/ring/index.js';
import { ringAtPosition } from './fixtures/ring-at-position.js';

interface ReadRecord {
  position: number;
  bytes?: Uint8Array;
  error?: string;
}

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

function startReader(ring: RingBuffer): Worker {
  const worker = new Worker(new URL('./fixtures/ring-reader.mjs', import.meta.url), {
    workerData: { buffer: ring.buffer, layout: RING_LAYOUT },
  });
  workers.push(worker);
  return worker;
}

/** Deterministic bytes so a failure reproduces. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe('RingBuffer across a worker thread', () => {
  it('the worker reads every published payload byte-exact through many wraps', async () => {
    // Start just below 2^31 so the run also crosses the position wrap.
    const ring = ringAtPosition(64 * 1024, POSITION_MASK + 1 - 256 * 1024);
    const worker = startReader(ring);
    const replies: ReadRecord[][] = [];
    let wake: (() => void) | null = null;
    worker.on('message', (msg: { type: string; records: ReadRecord[] }) => {
      replies.push(msg.records);
      wake?.();
    });
    const nextReply = async (): Promise<ReadRecord[]> => {
      while (replies.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return replies.shift() as ReadRecord[];
    };

    const random = lcg(42);
    const expected = new Map<number, Uint8Array>();
    let inFlightBatches = 0;
    let checked = 0;
    let batch: number[] = [];
    const settle = async (): Promise<void> => {
      const records = await nextReply();
      inFlightBatches--;
      for (const rec of records) {
        expect(rec.error).toBeUndefined();
        const want = expected.get(rec.position);
        expect(want).toBeDefined();
        expect(Buffer.from(rec.bytes as Uint8Array).equals(want as Uint8Array)).toBe(true);
        expected.delete(rec.position);
        ring.release(rec.position);
        checked++;
      }
    };
    const flush = (): void => {
      if (batch.length === 0) return;
      worker.postMessage({ type: 'read', positions: batch });
      inFlightBatches++;
      batch = [];
    };

    const total = 3000;
    for (let n = 0; n < total; n++) {
      // Mostly small bodies, some large, some empty.
      const r = random();
      const length = r % 10 === 0 ? r % (ring.maxRecordBytes + 1) : r % 10 === 1 ? 0 : r % 4096;
      let position = ring.reserve(length);
      while (position < 0) {
        flush();
        await settle();
        position = ring.reserve(length);
      }
      const body = new Uint8Array(length);
      for (let i = 0; i < length; i++) body[i] = random() >>> 24;
      // Arrives in chunks, as uWS delivers a body.
      const view = ring.payload(position);
      for (let at = 0; at < length; at += 1500) view.set(body.subarray(at, at + 1500), at);
      ring.publish(position);
      expected.set(position, body);
      batch.push(position);
      if (batch.length === 50) flush();
    }
    flush();
    while (inFlightBatches > 0) await settle();

    expect(checked).toBe(total);
    expect(ring.usedBytes()).toBe(0);
    expect(ring.publishedSequence()).toBe(total);
  });

  it('a worker blocked in Atomics.wait is woken by publish()', async () => {
    const ring = ringAtPosition(64 * 1024, 0);
    const worker = startReader(ring);
    const position = ring.reserve(5);
    const words = new Int32Array(ring.buffer);
    worker.postMessage({ type: 'wait', seen: ring.publishedSequence(), timeoutMs: 10_000, position });
    // Wait (without blocking this thread) until the worker is registered as a waiter.
    while (Atomics.load(words, RING_LAYOUT.CTL_WAITERS) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const reply = once(worker, 'message');
    ring.payload(position).set([10, 20, 30, 40, 50]);
    ring.publish(position);
    const [msg] = (await reply) as [{ result: string; sequence: number; record: ReadRecord }];
    expect(msg.result).toBe('ok');
    expect(msg.sequence).toBe(1);
    expect(Array.from(msg.record.bytes as Uint8Array)).toEqual([10, 20, 30, 40, 50]);
    expect(Atomics.load(words, RING_LAYOUT.CTL_WAITERS)).toBe(0);
  });

  it('the worker refuses a record that is reserved but not yet published', async () => {
    const ring = ringAtPosition(64 * 1024, 0);
    const worker = startReader(ring);
    const position = ring.reserve(5);
    const reply = once(worker, 'message');
    worker.postMessage({ type: 'read', positions: [position] });
    const [msg] = (await reply) as [{ records: ReadRecord[] }];
    expect(msg.records[0]?.error).toBe(`state ${RING_LAYOUT.STATE_RESERVED}`);
  });
});
