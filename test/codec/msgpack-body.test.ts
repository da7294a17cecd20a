import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { BodyKind, MSGPACK_MAX_DEPTH } from '../../src/codec/index.js';
import { scanMsgpack } from '../../src/codec/msgpack-body.js';
import { agentCtx, interaction, packr, rejection, rowsOf, run } from './support.js';

function runMp(bytes: Uint8Array | number[], maxEvents = 1000) {
  return run(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes), BodyKind.MsgpackBatch, { ...agentCtx, maxEvents });
}

/** fixmap key "data" */
const DATA_KEY = [0xa4, 0x64, 0x61, 0x74, 0x61];

describe('scanMsgpack', () => {
  it('returns the top-level array length for fix, 16 and 32-bit arrays', () => {
    expect(scanMsgpack(Uint8Array.from([0x92, 0x01, 0x02]))).toBe(2);
    expect(scanMsgpack(Uint8Array.from([0xdc, 0x00, 0x01, 0xc0]))).toBe(1);
    expect(scanMsgpack(Uint8Array.from([0xdd, 0x00, 0x00, 0x00, 0x00]))).toBe(0);
    expect(scanMsgpack(packr.pack(new Array(70000).fill(1)))).toBe(70000);
  });

  it('flags non-arrays, truncation, trailing bytes and lying lengths', () => {
    expect(scanMsgpack(Uint8Array.from([0x80]))).toBe(-1);
    expect(scanMsgpack(Uint8Array.from([]))).toBe(-2);
    expect(scanMsgpack(Uint8Array.from([0x92, 0x01]))).toBe(-2);
    expect(scanMsgpack(Uint8Array.from([0x91, 0x01, 0x02]))).toBe(-2);
    expect(scanMsgpack(Uint8Array.from([0x91, 0xd9, 0x05, 0x61]))).toBe(-2);
    expect(scanMsgpack(Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(-2);
    expect(scanMsgpack(Uint8Array.from([0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff]))).toBe(-2);
    expect(scanMsgpack(Uint8Array.from([0x91, 0xcb, 0x00]))).toBe(-2);
  });

  it('refuses every extension type and the never-used byte', () => {
    for (const bytes of [
      [0x91, 0xc1],
      [0x91, 0xd4, 0x01, 0x00],
      [0x91, 0xd5, 0x01, 0x00, 0x00],
      [0x91, 0xd6, 0xff, 0, 0, 0, 0], // timestamp 32
      [0x91, 0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
      [0x91, 0xd8, 0x01, ...new Array<number>(16).fill(0)],
      [0x91, 0xc7, 0x01, 0x65, 0x00],
      [0x91, 0xc8, 0x00, 0x01, 0x42, 0x00],
      [0x91, 0xc9, 0x00, 0x00, 0x00, 0x01, 0x73, 0x00],
    ]) {
      expect(scanMsgpack(Uint8Array.from(bytes)), bytes.join(',')).toBe(-3);
    }
  });

  it('bounds nesting depth', () => {
    const deep = (n: number): Uint8Array => Uint8Array.from([...new Array<number>(n).fill(0x91), 0xc0]);
    expect(scanMsgpack(deep(MSGPACK_MAX_DEPTH))).toBe(1);
    expect(scanMsgpack(deep(MSGPACK_MAX_DEPTH + 1))).toBe(-4);
    expect(scanMsgpack(deep(1_000_000))).toBe(-4);
  });
});

describe('MessagePack bodies', () => {
  it('decode like JSON', () => {
    const { result, batch } = runMp(packr.pack([interaction({ amount_atomic: 5, error_message: 'x\ty' })]));
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rowsOf(batch, 'agent_interactions')[0]).toMatchObject({ amount_atomic: '5', error_message: 'x\ty', success: 't' });
  });

  it('records, Date, Set, Error, RegExp and BigInt extensions are invalid_body', () => {
    const withRecords = new Packr({ useRecords: true });
    const structured = new Packr({ structuredClone: true, useRecords: false });
    for (const body of [
      withRecords.pack([interaction(), interaction()]),
      packr.pack([interaction({ when: new Date() })]),
      structured.pack([interaction({ tags: new Set([1]) })]),
      structured.pack([interaction({ e: new Error('x') })]),
      structured.pack([interaction({ r: /a+/ })]),
      new Packr({ useBigIntExtension: true, useRecords: false }).pack([interaction({ nonce: 2n ** 70n })]),
    ]) {
      expect(runMp(body).result).toMatchObject({ ok: false, code: 'invalid_body', message: 'MessagePack extension types are not accepted.' });
    }
  });

  it('a JS Map is packed as a plain MessagePack map, so it decodes as an object like any other', () => {
    expect(runMp(packr.pack([interaction({ m: new Map([[1, 2]]) })])).result).toMatchObject({ ok: true, accepted: 1 });
  });

  it('a bin value where a string is expected is invalid_event; in an unknown field it is ignored', () => {
    expect(rejection(runMp(packr.pack([interaction({ vendor_id: Buffer.from('abc') })])).result).message).toBe('data.vendor_id: must be a string');
    expect(runMp(packr.pack([interaction({ blob: Buffer.from('abc') })])).result).toMatchObject({ ok: true, accepted: 1 });
    expect(rejection(runMp(packr.pack([{ ...interaction(), data: Buffer.from('abc') }])).result).message).toBe('data: must be an object');
  });

  it('a map with an integer key decodes with a string key; a map key that is a map is invalid_body', () => {
    expect(runMp(packr.pack([interaction({ 5: 'x' } as Record<string, unknown>)])).result).toMatchObject({ ok: true, accepted: 1 });
    // [ { {}: 1 } ]
    expect(runMp([0x91, 0x81, 0x80, 0x01]).result).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('NaN, Infinity and float32 values are refused where numbers are expected', () => {
    for (const v of [NaN, Infinity, -Infinity, 1.5]) {
      expect(rejection(runMp(packr.pack([interaction({ latency_ms: v })])).result).message).toBe('data.latency_ms: must be an integer >= 0');
    }
  });

  it('too many events is detected before decoding', () => {
    expect(runMp(packr.pack([interaction(), interaction(), interaction()]), 2).result).toMatchObject({ ok: false, code: 'too_many_events' });
  });

  it('invalid_body for non-arrays, truncation and garbage', () => {
    expect(runMp(packr.pack(interaction())).result).toMatchObject({ ok: false, code: 'invalid_body', message: 'The MessagePack body must be an array of events.' });
    const full = packr.pack([interaction()]);
    expect(runMp(full.subarray(0, full.length - 3)).result).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(runMp(Buffer.from('[{"json":true}]')).result).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(runMp([...new Array<number>(100).fill(0x91), 0xc0]).result).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('refuses a str that is not valid UTF-8 (an encoded lone surrogate here), as for JSON', () => {
    // [ {data: {...}} ] is simpler to build by patching a packed string
    const marker = 'VENDORXX';
    const bytes = Buffer.from(packr.pack([interaction({ vendor_id: marker })]));
    const at = bytes.indexOf(marker);
    bytes[at + 6] = 0xed;
    bytes[at + 7] = 0xa0;
    const { result, batch } = runMp(bytes);
    expect(result).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(rowsOf(batch, 'agent_interactions')).toEqual([]);
  });

  it('reads integers sent in their 64-bit forms (int 64 / uint 64) like any other integer', () => {
    const marker = 'LATENCY-AS-INT64';
    const bytes = Buffer.from(packr.pack([interaction({ vendor_id: 'v', latency_ms: marker, nonce: 2n ** 62n })]));
    // Replace the marker string (a0+len header then the bytes) with d3 + int64 5, padded in place.
    const at = bytes.indexOf(marker) - 1;
    const int64Five = Buffer.from([0xd3, 0, 0, 0, 0, 0, 0, 0, 5]);
    const patched = Buffer.concat([bytes.subarray(0, at), int64Five, bytes.subarray(at + 1 + marker.length)]);
    const { result, batch } = runMp(patched);
    expect(result).toMatchObject({ ok: true, accepted: 1 });
    expect(rowsOf(batch, 'agent_interactions')[0]).toMatchObject({ latency_ms: '5', nonce: String(2n ** 62n) });
  });

  it('renames a __proto__ key harmlessly (msgpackr) and never pollutes prototypes', () => {
    const bytes = Uint8Array.from([0x91, 0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01]);
    expect(runMp(bytes).result).toMatchObject({ ok: true, accepted: 0 });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(DATA_KEY.length).toBe(5);
  });
});
