import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyKind } from '../../src/codec/index.js';
import { Int64Sum, parseInt64, parseNonNegativeInt64 } from '../../src/codec/int64.js';
import { agentCtx, interaction, packr, RawJsonNumber, rejection, rowsOf, run, toJson } from './support.js';
import { Endpoint } from '../../src/protocol/index.js';

const MAX = '9223372036854775807';
const MIN = '-9223372036854775808';

describe('parseInt64', () => {
  it('keeps safe integers as numbers, larger values as exact decimal strings', () => {
    expect(parseInt64(0)).toBe(0);
    expect(parseInt64(-0)).toBe(0);
    expect(Object.is(parseInt64(-0), 0)).toBe(true);
    expect(parseInt64(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseInt64('123')).toBe(123);
    expect(parseInt64('-0')).toBe(0);
    expect(parseInt64('9007199254740991')).toBe('9007199254740991'); // 16+ digits stay text (written the same)
    expect(parseInt64('-000000000000001')).toBe(-1);
    expect(parseInt64('9007199254740992')).toBe('9007199254740992');
    expect(parseInt64(MAX)).toBe(MAX);
    expect(parseInt64(MIN)).toBe(MIN);
    expect(parseInt64('0000000000000000042')).toBe(42);
  });

  it('refuses values outside int64, non-integers, unsafe numbers and other types', () => {
    for (const v of [
      '9223372036854775808',
      '-9223372036854775809',
      '18446744073709551615',
      '1.5',
      '1e3',
      ' 1',
      '1 ',
      '+1',
      '',
      '-',
      '0x10',
      '00000000000000000000042', // over 20 characters
      1.5,
      NaN,
      Infinity,
      2 ** 53,
      -(2 ** 53),
      true,
      null,
      undefined,
      {},
      [],
      2n ** 63n,
      -(2n ** 63n) - 1n,
    ]) {
      expect(parseInt64(v), String(v)).toBeNull();
    }
  });

  it('takes BigInts (MessagePack int 64 / uint 64) within int64, exactly', () => {
    expect(parseInt64(10n)).toBe(10);
    expect(parseInt64(2n ** 53n)).toBe('9007199254740992');
    expect(parseInt64(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(parseInt64(-(2n ** 63n))).toBe('-9223372036854775808');
  });

  it('agrees with a BigInt reference on random decimal strings (leading zeros, 15..21 characters)', () => {
    const reference = (s: string): string | null => {
      if (s.length > 20) return null;
      const b = BigInt(s);
      return b >= -(2n ** 63n) && b < 2n ** 63n ? b.toString() : null;
    };
    const decimal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^0{0,3}[0-9]{1,20}$/))
      .map(([neg, digits]) => (neg ? '-' : '') + digits);
    fc.assert(
      fc.property(decimal, (s) => {
        const r = parseInt64(s);
        expect(r === null ? null : String(r), s).toBe(reference(s));
      }),
      { numRuns: 5000 },
    );
    expect(parseInt64('10000000000000000000')).toBeNull();
    expect(parseInt64('9999999999999999999')).toBeNull();
    expect(parseInt64('999999999999999999')).toBe('999999999999999999');
  });

  it('parseNonNegativeInt64 refuses negatives', () => {
    expect(parseNonNegativeInt64(-1)).toBeNull();
    expect(parseNonNegativeInt64(MIN)).toBeNull();
    expect(parseNonNegativeInt64('-0')).toBe(0);
    expect(parseNonNegativeInt64(MAX)).toBe(MAX);
  });

  it('Int64Sum is exact past 2^53 and reports overflow', () => {
    const s = new Int64Sum();
    s.add(Number.MAX_SAFE_INTEGER);
    s.add(2);
    expect(s.value()).toBe('9007199254740993');
    s.reset();
    s.add('9223372036854775000');
    s.add(807);
    expect(s.value()).toBe(MAX);
    s.add(1);
    expect(s.value()).toBeNull();
    s.reset();
    expect(s.value()).toBe(0);
  });
});

describe('int64 fields are stored exactly (docs/protocol.md §2)', () => {
  const cases = [MAX, MIN, '9007199254740993', '-9007199254740993', '1234567890123456'];

  it.each(cases)('%s as a JSON number', (v) => {
    const { result, batch } = run(toJson([interaction({ nonce: new RawJsonNumber(v) })]));
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rowsOf(batch, 'agent_interactions')[0]?.nonce).toBe(v);
  });

  it.each(cases)('%s as a JSON string', (v) => {
    const { result, batch } = run(toJson([interaction({ nonce: v })]));
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rowsOf(batch, 'agent_interactions')[0]?.nonce).toBe(v);
  });

  it.each(cases)('%s as a MessagePack integer', (v) => {
    const { result, batch } = run(packr.pack([interaction({ nonce: BigInt(v) })]), BodyKind.MsgpackBatch);
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rowsOf(batch, 'agent_interactions')[0]?.nonce).toBe(v);
  });

  it('amount_atomic up to int64 max, in all three forms', () => {
    for (const body of [
      toJson([interaction({ amount_atomic: new RawJsonNumber(MAX) })]),
      toJson([interaction({ amount_atomic: MAX })]),
      packr.pack([interaction({ amount_atomic: BigInt(MAX) })]),
    ]) {
      const { result, batch } = run(body, typeof body === 'string' ? BodyKind.JsonBatch : BodyKind.MsgpackBatch);
      expect(result).toMatchObject({ ok: true, accepted: 1 });
      expect(rowsOf(batch, 'agent_interactions')[0]?.amount_atomic).toBe(MAX);
    }
  });

  it('9223372036854775808 is refused as number, string and MessagePack uint64', () => {
    const tooBig = '9223372036854775808';
    const message = 'data.nonce: must be an integer that fits int64 (a number or a decimal string)';
    expect(rejection(run(toJson([interaction({ nonce: new RawJsonNumber(tooBig) })])).result)).toMatchObject({ code: 'invalid_event', message });
    expect(rejection(run(toJson([interaction({ nonce: tooBig })])).result)).toMatchObject({ code: 'invalid_event', message });
    expect(rejection(run(packr.pack([interaction({ nonce: BigInt(tooBig) })]), BodyKind.MsgpackBatch).result)).toMatchObject({
      code: 'invalid_event',
      message,
    });
    expect(rejection(run(packr.pack([interaction({ nonce: 2n ** 64n - 1n })]), BodyKind.MsgpackBatch).result).code).toBe('invalid_event');
    expect(rejection(run(toJson([interaction({ nonce: new RawJsonNumber('-9223372036854775809') })])).result).code).toBe('invalid_event');
  });

  it('refuses non-integer and rounded values: 1.5, 1e21, a 17-digit float, MessagePack float64 of 2^60', () => {
    for (const raw of ['1.5', '1e21', '12345678901234567.0', '12345678901234567e0']) {
      expect(rejection(run(toJson([interaction({ nonce: new RawJsonNumber(raw) })])).result).message, raw).toMatch(/^data\.nonce: /);
    }
    expect(rejection(run(packr.pack([interaction({ nonce: 2 ** 60 })]), BodyKind.MsgpackBatch).result).message).toMatch(/^data\.nonce: /);
  });

  it('accepts integer-valued numbers written with fraction or exponent when they are safe', () => {
    const { result, batch } = run(toJson([interaction({ nonce: new RawJsonNumber('1.0e3') })]));
    expect(result).toMatchObject({ accepted: 1 });
    expect(rowsOf(batch, 'agent_interactions')[0]?.nonce).toBe('1000');
  });

  it('amount_atomic must be >= 0', () => {
    expect(rejection(run(toJson([interaction({ amount_atomic: -1 })])).result).message).toBe(
      'data.amount_atomic: must be an integer >= 0 that fits int64 (a number or a decimal string)',
    );
    expect(rejection(run(toJson([interaction({ amount_atomic: '-5' })])).result).code).toBe('invalid_event');
  });

  it('the context is the agent endpoint', () => {
    expect(agentCtx.endpoint).toBe(Endpoint.Agent);
  });
});
