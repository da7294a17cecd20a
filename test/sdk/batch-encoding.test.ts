import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { batchEncoder } from '../../src/sdk/batch-encoding.js';
import type { CloudEvent } from '../../src/sdk/cloudevents.js';
import { INT64_MAX, INT64_MIN, toInt64 } from '../../src/sdk/int64.js';
import { MachPayInputError } from '../../src/sdk/errors.js';

const unpack = new Unpackr({ int64AsType: 'bigint', useRecords: false, mapsAsObjects: true });

function eventWith(encoding: 'json' | 'msgpack', values: bigint[]): CloudEvent {
  const enc = batchEncoder(encoding);
  const data: Record<string, ReturnType<typeof enc.int64>> = {};
  values.forEach((v, i) => (data[`v${i}`] = enc.int64(v)));
  return { specversion: '1.0', id: 'x', source: 's', type: 'com.machpay.agent.interaction.v1', time: '2025-01-01T00:00:00.000Z', data };
}

const samples = [0n, 1n, 127n, 0xffff_ffffn, 0x1_0000_0000n, 9_007_199_254_740_993n, INT64_MAX, -1n, -0x8000_0001n, INT64_MIN];

describe('int64 on the wire', () => {
  it('MessagePack carries every int64 as an integer, exactly (9223372036854775807 included)', () => {
    const body = batchEncoder('msgpack').encode([eventWith('msgpack', samples)]);
    const [event] = unpack.unpack(body) as [{ data: Record<string, bigint | number> }];
    samples.forEach((v, i) => expect(BigInt(event.data[`v${i}`] as bigint | number)).toBe(v));
    // No float64 marker (0xcb) anywhere: nothing went through a double.
    expect(body.includes(0xcb)).toBe(false);
    expect(Buffer.from(body).includes(Buffer.from([0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(true);
  });

  it('JSON writes safe integers as numbers and larger ones as decimal strings', () => {
    const body = new TextDecoder().decode(batchEncoder('json').encode([eventWith('json', [1n, 9_007_199_254_740_991n, INT64_MAX])]));
    expect(body).toContain('"v0":1,');
    expect(body).toContain('"v1":9007199254740991,');
    expect(body).toContain('"v2":"9223372036854775807"');
  });

  it('MessagePack bodies are plain maps, not msgpackr records', () => {
    const body = batchEncoder('msgpack').encode([eventWith('msgpack', [1n])]);
    const plain = new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(body) as { id: string }[];
    expect(plain[0]?.id).toBe('x');
    expect(body.includes(0xd4) || body.includes(0xd5)).toBe(false);
  });
});

describe('toInt64', () => {
  it('accepts bigint, safe numbers and decimal strings within int64', () => {
    expect(toInt64('9223372036854775807', 'f')).toBe(INT64_MAX);
    expect(toInt64(-5, 'f')).toBe(-5n);
    expect(toInt64(INT64_MIN, 'f')).toBe(INT64_MIN);
  });
  it.each([[2 ** 53], [1.5], ['9223372036854775808'], ['12abc'], [INT64_MAX + 1n], [Number.NaN]])('rejects %s', (v) => {
    expect(() => toInt64(v as never, 'f')).toThrow(MachPayInputError);
  });
  it('enforces a minimum', () => {
    expect(() => toInt64(-1n, 'amountAtomic', 0n)).toThrow(/amountAtomic/);
  });
});
