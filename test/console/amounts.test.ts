/**
 * The console's amount formatting: exact for any int64 and any sum of them, never through
 * a float (checked against BigInt arithmetic for random values past 2^53).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAtomic, formatRunway, formatUsdc } from '../../src/console/page/amounts.js';

describe('console amounts', () => {
  it('formats USDC with six decimals and every digit', () => {
    expect(formatUsdc('0')).toBe('0.000000 USDC');
    expect(formatUsdc('1')).toBe('0.000001 USDC');
    expect(formatUsdc('1234567')).toBe('1.234567 USDC');
    expect(formatUsdc('9007199254740993')).toBe('9,007,199,254.740993 USDC');
    expect(formatUsdc('9223372036854775807')).toBe('9,223,372,036,854.775807 USDC');
    expect(formatUsdc('-5000000')).toBe('-5.000000 USDC');
    expect(formatUsdc(null)).toBe('—');
    expect(formatAtomic('not a number', 6)).toBe('—');
  });

  it('reads back as the same integer for any value up to 2^80', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), fc.integer({ min: 0, max: 12 }), (v, decimals) => {
        const text = formatAtomic(v.toString(), decimals);
        const [whole = '', fraction = ''] = text.replace(/,/g, '').split('.');
        expect(fraction.length).toBe(decimals);
        const back = BigInt(whole.replace('-', '')) * 10n ** BigInt(decimals) + BigInt(fraction === '' ? '0' : fraction);
        expect(text.startsWith('-') ? -back : back).toBe(v);
        expect(whole.replace('-', '')).toMatch(/^(0|[1-9]\d*)$/);
      }),
    );
  });

  it('shows runway in hours, then days', () => {
    expect(formatRunway(null)).toBe('—');
    expect(formatRunway(0)).toBe('0.00 h');
    expect(formatRunway(47.5)).toBe('47.50 h');
    expect(formatRunway(72)).toBe('3.0 days');
  });
});
