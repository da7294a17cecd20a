import { verify } from 'node:crypto';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  generateKeypair,
  MachPayConfigError,
  MachPayInputError,
  signedBytes,
  TelemetryEmitter,
  type DeliveryFailure,
  type TelemetryEmitterOptions,
} from '../../src/sdk/index.js';
import { accept, errorReply, publicKeyObject, startFakeReceiver, type FakeReceiver } from './fake-receiver.js';
import { expectBalanced, idsOf, interaction, sleep } from './emitter-helpers.js';

const keypair = generateKeypair();
let receiver: FakeReceiver;
let emitter: TelemetryEmitter | null = null;

beforeEach(async () => {
  receiver = await startFakeReceiver();
});
afterEach(async () => {
  await emitter?.stop({ deadlineMs: 0 });
  emitter = null;
  await receiver.close();
});

function make(options: Partial<TelemetryEmitterOptions> = {}): TelemetryEmitter {
  emitter = new TelemetryEmitter({ receiverUrl: receiver.url, keypair, telemetryIntervalMs: 0, retryInitialDelayMs: 10, ...options });
  return emitter;
}

describe('signing (docs/protocol.md §3)', () => {
  it('signs each request so the receiver verifies it, over the gzipped bytes as transmitted', async () => {
    const e = make({ gzip: true, gzipMinBytes: 0 });
    e.start();
    for (let i = 0; i < 50; i++) e.recordInteraction(interaction(i, { requestUrl: `https://api.example.com/forecast?i=${i}` }));
    await e.flush();
    const [req] = receiver.requests;
    expect(req?.path).toBe('/v1/agent');
    expect(req?.headers['content-type']).toBe('application/cloudevents-batch+json');
    expect(req?.headers['content-encoding']).toBe('gzip');
    expect(req?.headers['x-machpay-agent']).toBe(keypair.agentId);
    expect(req?.signatureValid).toBe(true);
    if (req === undefined || req.signature === null || req.timestamp === null) throw new Error('no request');
    expect(req.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    // The signature covers the compressed bytes, not the JSON inside them.
    const overDecoded = signedBytes(Number(req.timestamp), '/v1/agent', req.decoded);
    expect(verify(null, overDecoded, publicKeyObject(keypair.publicKey), req.signature)).toBe(false);
    // tweetnacl agrees with OpenSSL.
    expect(nacl.sign.detached.verify(signedBytes(Number(req.timestamp), '/v1/agent', req.raw), req.signature, keypair.publicKey)).toBe(true);
    expect(Math.abs(Number(req.timestamp) - Date.now())).toBeLessThan(5000);
    for (const ev of req.events) expect((ev['data'] as Record<string, unknown>)['agent_id']).toBe(keypair.agentId);
  });

  it('signs the full path when the receiver URL has a prefix', async () => {
    const e = make({ receiverUrl: `${receiver.url}/telemetry/` });
    e.start();
    e.recordInteraction(interaction(1));
    await e.flush();
    expect(receiver.requests[0]?.path).toBe('/telemetry/v1/agent');
    expect(receiver.requests[0]?.signatureValid).toBe(true);
  });
});

describe('events (docs/protocol.md §2, §5)', () => {
  it('builds interaction CloudEvents with stable nonce-based ids and strictly increasing default nonces', async () => {
    const e = make();
    e.start();
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) ids.push(e.recordInteraction(interaction(i)));
    e.recordInteraction({
      vendorId: 'v',
      success: false,
      latencyMs: 12.6,
      nonce: '42',
      tokenMint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
      requestUrl: 'x'.repeat(600),
      requestMethod: 'POST',
      errorType: 'payment_rejected',
      errorMessage: 'nope',
      signature: 'sig',
      time: Date.parse('2025-03-01T12:00:00Z'),
    });
    await e.flush();
    const events = receiver.events();
    expect(idsOf(events).slice(0, 500)).toEqual(ids);
    const nonces = events.slice(0, 500).map((ev) => BigInt((ev['data'] as { nonce: number }).nonce));
    for (let i = 1; i < nonces.length; i++) expect(nonces[i]).toBeGreaterThan(nonces[i - 1] as bigint);
    expect(events[0]).toMatchObject({
      specversion: '1.0',
      source: `urn:machpay:agent:${keypair.agentId}`,
      type: 'com.machpay.agent.interaction.v1',
      data: { agent_id: keypair.agentId, vendor_id: 'weather-api', success: true, latency_ms: 10, amount_atomic: 1000 },
    });
    expect(events[0]?.['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const last = events[500];
    expect(last?.['id']).toBe('i-42');
    expect(last?.['time']).toBe('2025-03-01T12:00:00.000Z');
    expect(last?.['data']).toEqual({
      agent_id: keypair.agentId,
      vendor_id: 'v',
      nonce: 42,
      success: false,
      latency_ms: 13,
      token_mint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
      request_url: 'x'.repeat(512),
      request_method: 'POST',
      error_type: 'payment_rejected',
      error_message: 'nope',
      signature: 'sig',
    });
  });

  it('rejects invalid input synchronously, naming the field, and queues nothing', () => {
    const e = make();
    const bad: [string, Record<string, unknown>][] = [
      ['vendorId', { vendorId: '' }],
      ['vendorId', { vendorId: 'v'.repeat(65) }],
      ['success', { success: 'yes' }],
      ['latencyMs', { latencyMs: -1 }],
      ['latencyMs', { latencyMs: Number.NaN }],
      ['nonce', { nonce: 1.5 }],
      ['amountAtomic', { amountAtomic: -1n }],
      ['amountAtomic', { amountAtomic: 2 ** 60 }],
      ['requestMethod', { requestMethod: 'X'.repeat(17) }],
      ['time', { time: new Date('invalid') }],
    ];
    for (const [field, patch] of bad) {
      const err = (() => {
        try {
          e.recordInteraction({ ...interaction(0), ...patch } as never);
        } catch (caught) {
          return caught;
        }
        return null;
      })();
      expect(err, field).toBeInstanceOf(MachPayInputError);
      expect((err as MachPayInputError).field).toBe(field);
    }
    expect(e.stats().recorded).toBe(0);
  });

  it('validates options at construction, naming the key', () => {
    const base = { receiverUrl: receiver.url, keypair };
    expect(() => new TelemetryEmitter({ ...base, maxBatchEvents: 1001 })).toThrow(MachPayConfigError);
    expect(() => new TelemetryEmitter({ ...base, maxBatchEvents: 1001 })).toThrow(/maxBatchEvents/);
    expect(() => new TelemetryEmitter({ ...base, receiverUrl: 'ftp://x' })).toThrow(/receiverUrl/);
    expect(() => new TelemetryEmitter({ ...base, maxQueueEvents: 10, maxBatchEvents: 20 })).toThrow(/maxQueueEvents/);
    expect(() => new TelemetryEmitter({ ...base, encoding: 'xml' as never })).toThrow(/encoding/);
    expect(() => new TelemetryEmitter({ ...base, keypair: {} as never })).toThrow(/keypair/);
  });
});

describe('batching', () => {
  it('flushes by size: full batches go at once, the remainder waits', async () => {
    const e = make({ maxBatchEvents: 10, flushIntervalMs: 60_000 });
    e.start();
    for (let i = 0; i < 25; i++) e.recordInteraction(interaction(i));
    await receiver.waitForRequests(2);
    await sleep(150);
    expect(receiver.requests.map((r) => r.events.length)).toEqual([10, 10]);
    expect(e.stats().queued).toBe(5);
    const final = await e.stop();
    expect(receiver.requests.map((r) => r.events.length)).toEqual([10, 10, 5]);
    expect(final).toMatchObject({ recorded: 25, sent: 25, queued: 0, batchesSent: 3 });
    expectBalanced(final);
  });

  it('drops the oldest events when the queue is full, and counts them', async () => {
    const e = make({ maxQueueEvents: 10, maxBatchEvents: 10 });
    for (let i = 1; i <= 25; i++) e.recordInteraction(interaction(i, { nonce: i }));
    expect(e.stats()).toMatchObject({ recorded: 25, queued: 10, dropped: 15 });
    const final = await e.stop();
    expect(idsOf(receiver.events())).toEqual(Array.from({ length: 10 }, (_, k) => `i-${16 + k}`));
    expect(final).toMatchObject({ sent: 10, dropped: 15 });
    expectBalanced(final);
  });

  it('stop() delivers what was queued even if start() was never called', async () => {
    const e = make();
    for (let i = 0; i < 7; i++) e.recordInteraction(interaction(i));
    const final = await e.stop();
    expect(receiver.events()).toHaveLength(7);
    expect(final.sent).toBe(7);
    expect(e.recordInteraction(interaction(99))).toMatch(/^i-/);
    expect(e.stats()).toMatchObject({ recorded: 8, abandoned: 1 });
    expectBalanced(e.stats());
  });
});

describe('concurrency and back-pressure', () => {
  it('keeps up to maxConcurrentBatches requests in flight', async () => {
    receiver.script = (req) => ({ ...(accept(req) as object), status: 202, delayMs: 200 });
    const e = make({ maxBatchEvents: 10, maxConcurrentBatches: 3 });
    e.start();
    for (let i = 0; i < 40; i++) e.recordInteraction(interaction(i));
    await receiver.waitForRequests(3);
    await sleep(100);
    expect(receiver.requests).toHaveLength(3); // the fourth waits for a free slot
    expect(e.stats()).toMatchObject({ inFlight: 30, queued: 10 });
    await e.flush();
    expect(e.stats()).toMatchObject({ sent: 40, batchesSent: 4 });
  });

  it('starts no new batch while a Retry-After is running', async () => {
    receiver.script = (req) => (req.index === 0 ? errorReply(429, 'overloaded', { 'retry-after': '0.4' }) : accept(req));
    const e = make({ maxBatchEvents: 5, maxConcurrentBatches: 4 });
    e.start();
    for (let i = 0; i < 5; i++) e.recordInteraction(interaction(i));
    await receiver.waitForRequests(1);
    await sleep(20);
    for (let i = 5; i < 10; i++) e.recordInteraction(interaction(i)); // a full batch, with free slots
    await sleep(150);
    expect(receiver.requests).toHaveLength(1);
    await e.flush();
    const first = receiver.requests[0]?.receivedAt ?? 0;
    for (const r of receiver.requests.slice(1)) expect(r.receivedAt - first).toBeGreaterThanOrEqual(400);
    expect(e.stats()).toMatchObject({ sent: 10, retried: 1 });
  });

  it('stop() is idempotent and start() after it does nothing', async () => {
    const e = make();
    e.recordInteraction(interaction(1));
    const [a, b] = await Promise.all([e.stop(), e.stop()]);
    expect(a).toEqual(b);
    e.start();
    expect(await e.emitTelemetrySnapshot()).toBeNull();
    expect(receiver.events()).toHaveLength(1);
  });
});

describe('batching by time (fake timers, no network)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a partial batch flushIntervalMs after its first event, not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const fetchMock = vi.fn((_url: string | URL | Request, init?: RequestInit) => {
      const n = (JSON.parse(new TextDecoder().decode(init?.body as Uint8Array)) as unknown[]).length;
      return Promise.resolve(new Response(JSON.stringify({ accepted: n, rejected: [] }), { status: 202 }));
    });
    const e = make({ fetch: fetchMock as typeof fetch, gzip: false, flushIntervalMs: 1000 });
    e.start();
    e.recordInteraction(interaction(1));
    await vi.advanceTimersByTimeAsync(600);
    e.recordInteraction(interaction(2)); // does not restart the clock
    await vi.advanceTimersByTimeAsync(399);
    expect(fetchMock).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(e.stats().sent).toBe(2));
    // An idle emitter does not wake up.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('queues a telemetry snapshot every telemetryIntervalMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(Date.parse('2025-06-01T00:00:00Z'));
    const bodies: Record<string, unknown>[][] = [];
    const fetchMock = vi.fn((_url: string | URL | Request, init?: RequestInit) => {
      bodies.push(JSON.parse(new TextDecoder().decode(init?.body as Uint8Array)) as Record<string, unknown>[]);
      return Promise.resolve(new Response('{}', { status: 202 }));
    });
    const e = make({ fetch: fetchMock as typeof fetch, gzip: false, telemetryIntervalMs: 60_000, flushIntervalMs: 100 });
    e.start();
    e.recordInteraction(interaction(1));
    await vi.advanceTimersByTimeAsync(3 * 60_000 + 200);
    await vi.waitFor(() => expect(e.stats().snapshots).toBe(3));
    await vi.waitFor(() => expect(e.stats().sent).toBe(4));
    const periods = bodies.flat().filter((ev) => ev['type'] === 'com.machpay.agent.telemetry.v1').map((ev) => ev['data'] as Record<string, unknown>);
    const start = Date.parse('2025-06-01T00:00:00Z') / 1000;
    expect(periods.map((d) => [d['period_start'], d['period_end']])).toEqual([
      [start, start + 60],
      [start + 60, start + 120],
      [start + 120, start + 180],
    ]);
    expect(Object.keys(periods[0]?.['interactions'] as object)).toEqual(['weather-api']);
    expect(periods[1]?.['interactions']).toEqual({});
  });
});

describe('retries (docs/protocol.md §6)', () => {
  it('honours Retry-After on 429, then resends the same event ids with a fresh signature', async () => {
    receiver.script = (req) => (req.index === 0 ? errorReply(429, 'rate_limited', { 'retry-after': '0.3' }) : accept(req));
    const e = make();
    e.start();
    for (let i = 0; i < 5; i++) e.recordInteraction(interaction(i));
    await e.flush();
    const [first, second] = receiver.requests;
    if (first === undefined || second === undefined) throw new Error('expected two requests');
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(300);
    expect(idsOf(second.events)).toEqual(idsOf(first.events));
    expect(second.timestamp).not.toBe(first.timestamp);
    expect(first.signatureValid && second.signatureValid).toBe(true);
    expect(e.stats()).toMatchObject({ sent: 5, retried: 1, errors: { rate_limited: 1 } });
  });

  it('honours Retry-After in whole seconds on 503', async () => {
    receiver.script = (req) => (req.index === 0 ? errorReply(503, 'not_ready', { 'retry-after': '1' }) : accept(req));
    const e = make();
    e.start();
    e.recordInteraction(interaction(1));
    await e.flush();
    const [first, second] = receiver.requests;
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(e.stats()).toMatchObject({ sent: 1, retried: 1, errors: { not_ready: 1 } });
  });

  it('retries a dropped connection and a 500 with the same event ids', async () => {
    receiver.script = (req) => (req.index === 0 ? 'destroy' : req.index === 1 ? { status: 500 } : accept(req));
    const e = make();
    e.start();
    for (let i = 0; i < 3; i++) e.recordInteraction(interaction(i));
    await e.flush();
    expect(receiver.requests).toHaveLength(3);
    const ids = receiver.requests.map((r) => idsOf(r.events).join());
    expect(new Set(ids).size).toBe(1);
    expect(e.stats()).toMatchObject({ sent: 3, retried: 2, errors: { network_error: 1, unexpected_status: 1 } });
  });

  it.each([
    [400, 'invalid_body'],
    [401, 'bad_signature'],
    [415, 'unsupported_encoding'],
  ])('does not retry %i %s, and reports the code', async (status, code) => {
    receiver.script = () => errorReply(status, code);
    const failures: DeliveryFailure[] = [];
    const e = make({ onError: (f) => failures.push(f) });
    e.start();
    for (let i = 0; i < 4; i++) e.recordInteraction(interaction(i));
    await e.flush();
    await sleep(50);
    expect(receiver.requests).toHaveLength(1);
    const s = e.stats();
    expect(s).toMatchObject({ sent: 0, failed: 4, failedBatches: 1, retried: 0, errors: { [code]: 1 } });
    expect(s.lastError).toMatchObject({ code, status });
    expect(failures).toHaveLength(1);
    expect(failures[0]?.eventIds).toHaveLength(4);
    expectBalanced(s);
  });

  it('retries timestamp_out_of_window once, signed with the clock of its Date header, then gives up', async () => {
    const receiverNow = Date.now() + 3_600_000;
    receiver.script = () => errorReply(401, 'timestamp_out_of_window', { date: new Date(receiverNow).toUTCString() });
    const e = make();
    e.start();
    for (let i = 0; i < 4; i++) e.recordInteraction(interaction(i));
    await e.flush();
    await sleep(50);
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests.map((r) => Number(r.timestamp));
    expect(Math.abs((second as number) - receiverNow)).toBeLessThan(2000);
    expect((second as number) - (first as number)).toBeGreaterThan(3_590_000);
    const s = e.stats();
    expect(s).toMatchObject({ sent: 0, failed: 4, failedBatches: 1, retried: 1, errors: { timestamp_out_of_window: 2 } });
    expectBalanced(s);
  });

  it('does not retry timestamp_out_of_window without a readable Date header', async () => {
    receiver.script = () => errorReply(401, 'timestamp_out_of_window', { date: 'soon' });
    const e = make();
    e.start();
    e.recordInteraction(interaction(0));
    await e.flush();
    await sleep(50);
    expect(receiver.requests).toHaveLength(1);
    expect(e.stats()).toMatchObject({ failed: 1, retried: 0 });
  });

  it('keeps backing off when Retry-After is 0', async () => {
    receiver.script = () => errorReply(429, 'rate_limited', { 'retry-after': '0' });
    const e = make({ batchDeadlineMs: 600, retryInitialDelayMs: 50, retryMaxDelayMs: 400 });
    e.start();
    e.recordInteraction(interaction(1));
    await e.flush();
    expect(receiver.requests.length).toBeGreaterThan(1);
    expect(receiver.requests.length).toBeLessThan(8); // ≈ 25+50+100+200 ms of backoff, not a busy loop
    expect(e.stats()).toMatchObject({ failed: 1, lastError: { code: 'deadline_exceeded' } });
  });

  it('gives up on a batch at its deadline', async () => {
    receiver.script = () => errorReply(503, 'not_ready');
    const e = make({ batchDeadlineMs: 300, retryInitialDelayMs: 20, retryMaxDelayMs: 50 });
    e.start();
    e.recordInteraction(interaction(1));
    const began = Date.now();
    await e.flush();
    expect(Date.now() - began).toBeLessThan(1000);
    expect(receiver.requests.length).toBeGreaterThan(2);
    expect(e.stats()).toMatchObject({ failed: 1, failedBatches: 1, lastError: { code: 'deadline_exceeded' } });
  });

  it('counts per-event rejections from a 202 and reports each', async () => {
    receiver.script = (req) => ({
      status: 202,
      body: { accepted: req.events.length - 1, rejected: [{ index: 1, id: req.events[1]?.['id'], code: 'invalid_event', message: 'vendor_id too long' }] },
    });
    const failures: DeliveryFailure[] = [];
    const e = make({ onError: (f) => failures.push(f) });
    e.start();
    const ids = [0, 1, 2].map((i) => e.recordInteraction(interaction(i)));
    await e.flush();
    expect(e.stats()).toMatchObject({ sent: 3, rejected: 1, errors: { invalid_event: 1 } });
    expect(failures).toEqual([{ code: 'invalid_event', message: 'vendor_id too long', status: 202, eventIds: [ids[1]] }]);
  });
});

describe('413 and size limits', () => {
  it('splits a batch in halves on 413 until the receiver takes it', async () => {
    receiver.script = (req) => (req.events.length > 4 ? errorReply(413, 'too_many_events') : accept(req));
    const e = make({ maxBatchEvents: 16 });
    e.start();
    const ids = Array.from({ length: 16 }, (_, i) => e.recordInteraction(interaction(i)));
    await e.flush();
    expect(receiver.requests.map((r) => r.events.length)).toEqual([16, 8, 4, 4, 8, 4, 4]);
    const accepted = receiver.requests.filter((r) => r.events.length <= 4).flatMap((r) => idsOf(r.events));
    expect(accepted).toEqual(ids);
    expect(e.stats()).toMatchObject({ sent: 16, splits: 3, retried: 0, batchesSent: 4, errors: { too_many_events: 3 } });
    expectBalanced(e.stats());
  });

  it('drops and counts a single event that is still 413', async () => {
    receiver.script = () => errorReply(413, 'body_too_large');
    const failures: DeliveryFailure[] = [];
    const e = make({ onError: (f) => failures.push(f) });
    e.start();
    e.recordInteraction(interaction(1));
    e.recordInteraction(interaction(2));
    await e.flush();
    expect(receiver.requests.map((r) => r.events.length)).toEqual([2, 1, 1]);
    expect(e.stats()).toMatchObject({ sent: 0, droppedTooLarge: 2, splits: 1, errors: { event_too_large: 2, body_too_large: 3 } });
    expect(failures.map((f) => [f.code, f.status])).toEqual([
      ['event_too_large', 413],
      ['event_too_large', 413],
    ]);
    expectBalanced(e.stats());
  });

  it('splits locally before sending a body over maxBodyBytes, and drops a lone event over it', async () => {
    const e = make({ gzip: false, maxBodyBytes: 2048, maxBatchEvents: 100 });
    e.start();
    for (let i = 0; i < 40; i++) e.recordInteraction(interaction(i, { requestUrl: 'https://x.example/' + 'a'.repeat(300) }));
    e.recordInteraction(interaction(99, { errorMessage: 'e'.repeat(2048), requestUrl: 'u'.repeat(512) }));
    await e.flush();
    for (const r of receiver.requests) expect(r.raw.length).toBeLessThanOrEqual(2048);
    expect(receiver.events()).toHaveLength(40);
    expect(e.stats()).toMatchObject({ sent: 40, droppedTooLarge: 1 });
    expectBalanced(e.stats());
  });
});

describe('stop()', () => {
  it('resolves by its deadline, aborting what is in flight and counting it abandoned', async () => {
    receiver.script = () => 'hang';
    const e = make();
    e.start();
    for (let i = 0; i < 5; i++) e.recordInteraction(interaction(i));
    void e.flush();
    await receiver.waitForRequests(1);
    for (let i = 5; i < 8; i++) e.recordInteraction(interaction(i));
    const began = Date.now();
    const final = await e.stop({ deadlineMs: 200 });
    const took = Date.now() - began;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1000);
    expect(final).toMatchObject({ sent: 0, abandoned: 8, inFlight: 0, queued: 0, errors: { stopped: 2 } }); // the batch in flight, then the queue
    expectBalanced(final);
  });

  it('cuts short a retry wait', async () => {
    receiver.script = () => errorReply(429, 'overloaded', { 'retry-after': '30' });
    const e = make({ batchDeadlineMs: 120_000 });
    e.start();
    e.recordInteraction(interaction(1));
    void e.flush();
    await receiver.waitForRequests(1);
    const began = Date.now();
    const final = await e.stop({ deadlineMs: 100 });
    expect(Date.now() - began).toBeLessThan(1000);
    expect(final).toMatchObject({ abandoned: 1, retried: 1 });
  });

  it('fails a batch at once when Retry-After is beyond its deadline', async () => {
    receiver.script = () => errorReply(429, 'overloaded', { 'retry-after': '30' });
    const e = make({ batchDeadlineMs: 5000 });
    e.start();
    e.recordInteraction(interaction(1));
    await e.flush();
    expect(e.stats()).toMatchObject({ failed: 1, retried: 0, lastError: { code: 'deadline_exceeded', status: 429 } });
  });
});

describe('MessagePack', () => {
  it('carries int64 values exactly, as integers, gzipped and signed', async () => {
    const max = 9_223_372_036_854_775_807n;
    const e = make({ encoding: 'msgpack', gzip: true, gzipMinBytes: 0 });
    e.start();
    e.recordInteraction(interaction(1, { nonce: max, amountAtomic: max }));
    e.recordInteraction(interaction(2, { nonce: 5, amountAtomic: '9007199254740993' }));
    await e.flush();
    const [req] = receiver.requests;
    expect(req?.headers['content-type']).toBe('application/cloudevents-batch+msgpack');
    expect(req?.signatureValid).toBe(true);
    const [a, b] = (req?.events ?? []).map((ev) => ev['data'] as Record<string, unknown>);
    expect(a?.['nonce']).toBe(max);
    expect(a?.['amount_atomic']).toBe(max);
    expect(b?.['amount_atomic']).toBe(9_007_199_254_740_993n);
    expect(b?.['nonce']).toBe(5);
    expect(req?.events[0]?.['id']).toBe('i-9223372036854775807');
  });
});

describe('telemetry snapshots (com.machpay.agent.telemetry.v1)', () => {
  function nearestRank(values: number[], p: number): number {
    const sorted = [...values].sort((x, y) => x - y);
    return sorted[Math.max(1, Math.ceil((p * sorted.length) / 100)) - 1] as number;
  }

  it('reports per-vendor stats whose p50/p99 equal a sort of the raw latencies', async () => {
    const e = make({
      walletProvider: () => ({ solBalanceLamports: 5_000_000_000n, usdcBalanceAtomic: '9223372036854775807', lowBalanceWarnings: 1 }),
    });
    e.start();
    const raw: Record<string, number[]> = { a: [], b: [] };
    let spendA = 0n;
    for (let i = 0; i < 700; i++) {
      const vendorId = i % 7 === 0 ? 'b' : 'a';
      const latencyMs = Math.round(Math.random() * 2000);
      const success = i % 5 !== 0;
      raw[vendorId]?.push(latencyMs);
      if (vendorId === 'a' && success) spendAtomicAdd(BigInt(i));
      e.recordInteraction({ vendorId, success, latencyMs, amountAtomic: BigInt(i), ...(success ? {} : { errorType: i % 2 ? 'timeout' : 'insufficient_funds' }) });
    }
    function spendAtomicAdd(v: bigint): void {
      spendA += v;
    }
    const id = await e.emitTelemetrySnapshot();
    await e.flush();
    const snapshot = receiver.events().find((ev) => ev['type'] === 'com.machpay.agent.telemetry.v1');
    expect(snapshot?.['id']).toBe(id);
    const data = snapshot?.['data'] as Record<string, unknown>;
    const end = data['period_end'] as number;
    expect(Number.isInteger(end) && Number.isInteger(data['period_start'])).toBe(true);
    expect(end).toBeGreaterThan(data['period_start'] as number);
    expect(snapshot?.['time']).toBe(new Date(end * 1000).toISOString());
    expect(data['agent_id']).toBe(keypair.agentId);
    expect(data['sdk_version']).toBe('0.1.0');
    expect(data['wallet']).toEqual({ sol_balance_lamports: 5_000_000_000, usdc_balance_atomic: '9223372036854775807', low_balance_warnings: 1 });
    const interactions = data['interactions'] as Record<string, Record<string, unknown>>;
    for (const v of ['a', 'b']) {
      const lat = raw[v] ?? [];
      expect(interactions[v]?.['attempts']).toBe(lat.length);
      expect(interactions[v]?.['payment_latency_p50']).toBe(nearestRank(lat, 50));
      expect(interactions[v]?.['payment_latency_p99']).toBe(nearestRank(lat, 99));
    }
    const a = interactions['a'] ?? {};
    expect((a['success'] as number) + (a['failures'] as number)).toBe(a['attempts']);
    expect(a['spend_atomic']).toBe(Number(spendA));
    const errors = a['errors'] as Record<string, number>;
    expect(Object.values(errors).reduce((x, y) => x + y, 0)).toBe(a['failures']);
  });

  it('keeps periods contiguous and strictly increasing, and sends a last one at stop()', async () => {
    const e = make({ telemetryIntervalMs: 60_000 });
    e.start();
    await e.emitTelemetrySnapshot();
    await e.emitTelemetrySnapshot();
    e.recordInteraction(interaction(1));
    const final = await e.stop();
    const snaps = receiver.events().filter((ev) => ev['type'] === 'com.machpay.agent.telemetry.v1').map((ev) => ev['data'] as Record<string, number>);
    expect(snaps).toHaveLength(3);
    for (let i = 1; i < snaps.length; i++) {
      expect(snaps[i]?.['period_start']).toBe(snaps[i - 1]?.['period_end']);
      expect(snaps[i]?.['period_end']).toBeGreaterThan(snaps[i]?.['period_start'] as number);
    }
    expect(new Set(idsOf(receiver.events())).size).toBe(4);
    expect(final).toMatchObject({ snapshots: 3, sent: 4 });
  });

  it('sends the snapshot without a wallet when walletProvider fails or hangs', async () => {
    const e = make({ walletProvider: () => new Promise(() => undefined), walletTimeoutMs: 50 });
    e.start();
    await e.emitTelemetrySnapshot();
    await e.flush();
    const data = receiver.events()[0]?.['data'] as Record<string, unknown>;
    expect(data).not.toHaveProperty('wallet');
    expect(data['interactions']).toEqual({});
    expect(e.stats().errors).toMatchObject({ wallet_provider_failed: 1 });
  });
});
