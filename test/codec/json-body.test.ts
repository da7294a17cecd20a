import { describe, expect, it } from 'vitest';
import { BodyKind } from '../../src/codec/index.js';
import { quoteLongIntegers } from '../../src/codec/json-body.js';
import { interaction, rejection, rowsOf, run, toJson } from './support.js';

describe('quoteLongIntegers', () => {
  it('quotes 16+ digit integer values of int64 keys (nonce, *_atomic, *_lamports)', () => {
    expect(
      quoteLongIntegers('{"nonce":12345678901234567,"amount_atomic" : -9223372036854775808,"x":{"sol_balance_lamports":\n1234567890123456\n}}'),
    ).toBe('{"nonce":"12345678901234567","amount_atomic" : "-9223372036854775808","x":{"sol_balance_lamports":\n"1234567890123456"\n}}');
    expect(quoteLongIntegers('{"spend_atomic":9223372036854775807}')).toBe('{"spend_atomic":"9223372036854775807"}');
  });

  it('leaves other keys, arrays, strings, short integers, fractions, exponents and invalid tokens alone', () => {
    for (const t of [
      '{"latency_ms":12345678901234567}',
      '[12345678901234567]',
      '{"nonce":123456789012345}',
      '{"nonce":1.12345678901234567}',
      '{"nonce":12345678901234567.5}',
      '{"nonce":12345678901234567e3}',
      '{"nonce":1e12345678901234567}',
      '{"nonce":01234567890123456789}',
      '{"nonce":-01234567890123456789}',
      '{"nonce":12345678901234567x}',
      '{"nonce":"12345678901234567"}',
      '{"s":"nonce\\": 12345678901234567"}',
      '{"s":"a_atomic\\":12345678901234567 "}',
    ]) {
      expect(quoteLongIntegers(t), t).toBe(t);
    }
  });

  it('after an escaped backslash the quote closes the string, and the value is outside it', () => {
    const t = '{"s":"\\\\","nonce":12345678901234567,"k\\"nonce":12345678901234567}';
    expect(JSON.parse(quoteLongIntegers(t))).toEqual({ s: '\\', nonce: '12345678901234567', 'k"nonce': '12345678901234567' });
  });

  it('is linear on hostile repetitions of the key endings', () => {
    for (const hostile of ['nonce"'.repeat(500_000), '_atomic" :'.repeat(300_000) + '1', `nonce"${' '.repeat(2_000_000)}x`, '"nonce":' + '1'.repeat(2_000_000) + '.']) {
      const t0 = performance.now();
      expect(quoteLongIntegers(hostile)).toBe(hostile);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });
});

describe('JSON bodies', () => {
  it('refuses invalid UTF-8 with invalid_body', () => {
    const good = Buffer.from(toJson([interaction()]));
    const bad = Buffer.concat([good.subarray(0, 20), Buffer.from([0xff, 0xfe]), good.subarray(20)]);
    expect(run(bad).result).toMatchObject({ ok: false, code: 'invalid_body', message: 'The body is not valid UTF-8.' });
    // an encoded lone surrogate (CESU) is invalid UTF-8 too
    expect(run(Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d])).result).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('refuses malformed JSON and the wrong top-level shape', () => {
    expect(run('[{"a":1}').result).toMatchObject({ ok: false, code: 'invalid_body', message: 'The body is not valid JSON.' });
    expect(run('').result).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(run(toJson(interaction())).result).toMatchObject({ ok: false, code: 'invalid_body', message: 'A cloudevents-batch+json body must be a JSON array.' });
    expect(run(toJson([interaction()]), BodyKind.JsonSingle).result).toMatchObject({
      ok: false,
      code: 'invalid_body',
      message: 'A cloudevents+json body must be a JSON object.',
    });
    expect(run('null', BodyKind.JsonSingle).result).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('strips a UTF-8 BOM', () => {
    const { result } = run(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(toJson([interaction()]))]));
    expect(result).toMatchObject({ ok: true, accepted: 1 });
  });

  it('keeps a 17-digit nonce exact when strings also hold long digit runs and int64-like keys', () => {
    const evt = interaction({ nonce: 0, error_message: 'ref 99999999999999999999 "quoted" \\ nonce": 12345678901234567' });
    const text = toJson([evt]).replace('"nonce":0', '"nonce":12345678901234567');
    const { result, batch } = run(text);
    expect(result).toMatchObject({ accepted: 1 });
    const row = rowsOf(batch, 'agent_interactions')[0];
    expect(row?.nonce).toBe('12345678901234567');
    expect(row?.error_message).toBe('ref 99999999999999999999 "quoted" \\ nonce": 12345678901234567');
  });

  it('a long integer where an INT is expected is refused, not rounded', () => {
    expect(rejection(run(toJson([interaction({ latency_ms: 0 })]).replace('"latency_ms":0', '"latency_ms":12345678901234567')).result).message).toBe(
      'data.latency_ms: must be at most 2147483647',
    );
    // An int64 field of another name than the three endings is not quoted: refused (unsafe double), never rounded.
    expect(
      rejection(run(toJson([interaction({ nonce: 0 })]).replace('"nonce":0', '"non\\u0063e":12345678901234567')).result).message,
    ).toMatch(/^data\.nonce: must be an integer that fits int64/);
  });
});
