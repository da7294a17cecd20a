import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyKind, RowBatch, decodeAndEncode, type BodyResult, type EventContext } from '../../src/codec/index.js';
import { gatewaySample, interactionSample, telemetrySample, toWire, type EventSample } from './arbitraries.js';
import { agentCtx, gatewayRequest, ingestCtx, interaction, packr, rowsOf, telemetry, toJson } from './support.js';

const agentBatch = fc.array(fc.oneof(interactionSample, telemetrySample), { minLength: 1, maxLength: 8 });
const ingestBatch = fc.array(gatewaySample, { minLength: 1, maxLength: 8 });

function encode(samples: EventSample[], form: 'json' | 'msgpack'): Uint8Array {
  const events = samples.map((s) => toWire(s.event, form));
  return form === 'json' ? Buffer.from(toJson(events)) : packr.pack(events);
}

function check(samples: EventSample[], form: 'json' | 'msgpack', ctx: EventContext): void {
  const batch = new RowBatch(256);
  const result = decodeAndEncode(encode(samples, form), form === 'json' ? BodyKind.JsonBatch : BodyKind.MsgpackBatch, null, ctx, batch);
  expect(result).toEqual({ ok: true, accepted: samples.length, rejected: [] });
  for (const table of ['agent_interactions', 'agent_telemetry', 'gateway_telemetry'] as const) {
    expect(rowsOf(batch, table)).toEqual(samples.filter((s) => s.table === table).map((s) => s.row));
  }
}

describe('round trip: random valid events → body → rows → same values', () => {
  it('agent events as a JSON batch', () => {
    fc.assert(fc.property(agentBatch, (samples) => check(samples, 'json', agentCtx)), { numRuns: 150 });
  });
  it('agent events as a MessagePack batch', () => {
    fc.assert(fc.property(agentBatch, (samples) => check(samples, 'msgpack', agentCtx)), { numRuns: 150 });
  });
  it('gateway events as a JSON batch', () => {
    fc.assert(fc.property(ingestBatch, (samples) => check(samples, 'json', ingestCtx)), { numRuns: 150 });
  });
  it('gateway events as a MessagePack batch', () => {
    fc.assert(fc.property(ingestBatch, (samples) => check(samples, 'msgpack', ingestCtx)), { numRuns: 150 });
  });
  it('one event in binary mode', () => {
    fc.assert(
      fc.property(fc.oneof(interactionSample, telemetrySample), (s) => {
        const e = toWire(s.event, 'json') as Record<string, unknown>;
        const binary = { specversion: '1.0', id: e.id as string, source: e.source as string, type: e.type as string, time: e.time as string };
        const batch = new RowBatch(256);
        const result = decodeAndEncode(Buffer.from(toJson(e.data)), BodyKind.Binary, binary, agentCtx, batch);
        expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
        expect(rowsOf(batch, s.table)).toEqual([s.row]);
      }),
      { numRuns: 100 },
    );
  });
});

/** The invariants of any outcome: no throw, a well-formed result, and rows exactly for the accepted events. */
function runHostile(body: Uint8Array, kind: BodyKind, ctx: EventContext, binary: Parameters<typeof decodeAndEncode>[2] = null): BodyResult {
  const batch = new RowBatch(256);
  // A previous request's rows must survive whatever this one does.
  decodeAndEncode(Buffer.from(toJson([interaction({ nonce: 1 }), telemetry(), gatewayRequest()])), BodyKind.JsonBatch, null, ctx, batch);
  const before = batch.rows;
  const beforeBytes = [batch.interactions.byteLength, batch.telemetry.byteLength, batch.gateway.byteLength];
  const result = decodeAndEncode(body, kind, binary, ctx, batch);
  if (result.ok) {
    expect(batch.rows - before).toBe(result.accepted);
    for (const r of result.rejected) {
      expect(['invalid_event', 'unknown_type', 'agent_mismatch']).toContain(r.code);
      expect(typeof r.message).toBe('string');
      expect(r.id === null || typeof r.id === 'string').toBe(true);
    }
  } else {
    expect(['invalid_body', 'too_many_events']).toContain(result.code);
    expect(batch.rows).toBe(before);
    expect([batch.interactions.byteLength, batch.telemetry.byteLength, batch.gateway.byteLength]).toEqual(beforeBytes);
  }
  // Every row still has the right number of columns.
  rowsOf(batch, 'agent_interactions');
  rowsOf(batch, 'agent_telemetry');
  rowsOf(batch, 'gateway_telemetry');
  return result;
}

const kinds = fc.constantFrom(BodyKind.JsonBatch, BodyKind.JsonSingle, BodyKind.MsgpackBatch, BodyKind.Binary);
const ctxs = fc.constantFrom(agentCtx, ingestCtx, { ...agentCtx, agentId: null }, { ...agentCtx, maxEvents: 1 });
const binaryAttrs = fc.option(
  fc.record({
    specversion: fc.oneof(fc.constant('1.0'), fc.string()),
    id: fc.string(),
    source: fc.string(),
    type: fc.constantFrom('com.machpay.agent.interaction.v1', 'com.machpay.gateway.request.v1', 'x'),
    time: fc.option(fc.string(), { nil: null }),
  }),
  { nil: null },
);

describe('hostile input never throws and never leaves rows of a rejected event', () => {
  it('random bytes, every body kind and endpoint', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), kinds, ctxs, binaryAttrs, (bytes, kind, ctx, binary) => {
        runHostile(bytes, kind, ctx, binary);
      }),
      { numRuns: 2000 },
    );
  });

  it('random JSON-like structures as JSON and MessagePack', () => {
    const anything = fc.anything({ maxDepth: 6, withNullPrototype: true, withObjectString: true, withSparseArray: true, withBoxedValues: true });
    fc.assert(
      fc.property(anything, kinds, ctxs, (value, kind, ctx) => {
        let json: string | undefined;
        try {
          json = JSON.stringify(value);
        } catch {
          json = undefined;
        }
        if (json !== undefined) runHostile(Buffer.from(json), kind === BodyKind.MsgpackBatch ? BodyKind.JsonBatch : kind, ctx, null);
        let packed: Uint8Array | undefined;
        try {
          packed = packr.pack(value);
        } catch {
          packed = undefined;
        }
        if (packed !== undefined) runHostile(packed, BodyKind.MsgpackBatch, ctx);
      }),
      { numRuns: 1000 },
    );
  });

  it('valid events with one field replaced by anything', () => {
    const sample = fc.oneof(interactionSample, telemetrySample, gatewaySample);
    const junk = fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.constantFrom('\u0000', '\ud800', 'x'.repeat(5000), -1, 2 ** 31, 2 ** 63, NaN, '9223372036854775808', '', [], {}, true, '2026-02-30T00:00:00Z'),
    );
    fc.assert(
      fc.property(sample, fc.nat(), junk, fc.constantFrom('json' as const, 'msgpack' as const), (s, pick, value, form) => {
        const evt = toWire(s.event, form) as Record<string, unknown>;
        const data = evt.data as Record<string, unknown>;
        const keys = [...Object.keys(evt).map((k) => ['evt', k]), ...Object.keys(data).map((k) => ['data', k])];
        const [where, key] = keys[pick % keys.length] as [string, string];
        (where === 'evt' ? evt : data)[key] = value;
        const ctx = s.table === 'gateway_telemetry' ? ingestCtx : agentCtx;
        let body: Uint8Array;
        try {
          body = form === 'json' ? Buffer.from(toJson([evt])) : packr.pack([evt]);
        } catch {
          return; // value not encodable in this form
        }
        runHostile(body, form === 'json' ? BodyKind.JsonBatch : BodyKind.MsgpackBatch, ctx);
      }),
      { numRuns: 1500 },
    );
  });

  it('valid bodies with random bytes flipped or cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(interactionSample, telemetrySample), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('json' as const, 'msgpack' as const),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        (samples, form, flips, cut) => {
          const body = Buffer.from(encode(samples, form));
          for (const [at, byte] of flips) body[at % body.length] = byte;
          const bytes = cut === undefined ? body : body.subarray(0, cut % (body.length + 1));
          runHostile(bytes, form === 'json' ? BodyKind.JsonBatch : BodyKind.MsgpackBatch, agentCtx);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
