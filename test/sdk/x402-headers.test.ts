import { describe, expect, it } from 'vitest';
import { challengeError, challengeTerms, decodeBase64Json, decodeX402Header, paymentTerms, settlement } from '../../src/sdk/x402-headers.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

describe('reading x402 headers', () => {
  it('decodes standard and URL-safe base64 JSON, and reads anything else as absent', () => {
    const value = { note: 'ünïcode ✓', n: 1 };
    expect(decodeBase64Json(b64(value))).toEqual(value);
    expect(decodeBase64Json(Buffer.from(JSON.stringify(value)).toString('base64url'))).toEqual(value);
    for (const bad of ['', '***', b64([1, 2]), b64('text'), Buffer.from('{"open":').toString('base64'), 'A'.repeat(70_000)]) {
      expect(decodeBase64Json(bad), bad.slice(0, 20)).toBeNull();
    }
  });

  it('takes the first header present, v2 names before v1', () => {
    const headers = new Headers({ 'x-payment': b64({ v: 1 }), 'payment-signature': b64({ v: 2 }) });
    expect(decodeX402Header((n) => headers.get(n), ['payment-signature', 'x-payment'])).toEqual({ v: 2 });
    expect(decodeX402Header(() => null, ['payment-signature', 'x-payment'])).toBeNull();
  });

  it('reads amounts of v2 payments and challenges, v1 EVM payments and challenges, and settlements', () => {
    const requirement = { scheme: 'exact', network: 'eip155:84532', asset: '0xabc', amount: '1000', payTo: '0x1' };
    expect(paymentTerms({ x402Version: 2, accepted: requirement, payload: {} })).toEqual({ amountAtomic: '1000', asset: '0xabc', network: 'eip155:84532' });
    expect(paymentTerms({ x402Version: 1, network: 'base', payload: { authorization: { value: '250' } } })).toEqual({ amountAtomic: '250', network: 'base' });
    expect(challengeTerms({ x402Version: 2, accepts: [requirement] }).amountAtomic).toBe('1000');
    expect(challengeTerms({ x402Version: 1, accepts: [{ maxAmountRequired: '5', asset: 'mint' }], error: 'X-PAYMENT header is required' })).toEqual({ amountAtomic: '5', asset: 'mint', network: undefined });
    expect(challengeError({ error: 'insufficient_funds' })).toBe('insufficient_funds');
    expect(challengeTerms({ accepts: 'none' })).toEqual({});
    expect(settlement({ success: true, transaction: '0xt', network: 'n', amount: '7' })).toMatchObject({ success: true, transaction: '0xt', amountAtomic: '7' });
    expect(settlement({ success: 'yes' }).success).toBe(false);
  });

  it('leaves out amounts that are not int64 decimals rather than let the emitter refuse the event', () => {
    for (const amount of ['-1', '1.5', '1e3', '9223372036854775808', '', 12.5, null]) {
      expect(paymentTerms({ accepted: { amount } }).amountAtomic, String(amount)).toBeUndefined();
    }
    expect(paymentTerms({ accepted: { amount: '9223372036854775807' } }).amountAtomic).toBe('9223372036854775807');
    expect(paymentTerms({ accepted: { amount: 42 } }).amountAtomic).toBe('42');
    expect(paymentTerms({ accepted: { amount: '0007' } }).amountAtomic).toBe('7');
  });
});
