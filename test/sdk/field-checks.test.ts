import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSource } from '../../src/sdk/cloudevents.js';
import { MachPayConfigError, MachPayInputError } from '../../src/sdk/errors.js';
import { requireString, truncate } from '../../src/sdk/field-checks.js';

const codePoints = (s: string): number => [...s].length;
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('field checks (sized like the receiver: code points, storable text)', () => {
  it('identifiers: counted in characters, NUL and lone surrogates refused', () => {
    expect(requireString('😀'.repeat(64), 'vendorId', 64)).toHaveLength(128);
    expect(() => requireString('😀'.repeat(65), 'vendorId', 64)).toThrow(MachPayInputError);
    expect(() => requireString('a\u0000b', 'vendorId', 64)).toThrow(/NUL/);
    expect(() => requireString('a\ud800b', 'vendorId', 64)).toThrow(/surrogate/);
  });

  it('free text: cleaned to storable text and cut to at most n characters, never inside a pair', () => {
    expect(truncate('a\u0000b\udc00c', 'f', 10)).toBe('a\ufffdb\ufffdc');
    expect(truncate('ab😀😀', 'f', 3)).toBe('ab😀');
    expect(truncate('', 'f', 3)).toBeNull();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.integer({ min: 1, max: 40 }), (s, n) => {
        const out = truncate(s, 'f', n);
        if (s === '') {
          expect(out).toBeNull();
          return;
        }
        expect(out).not.toBeNull();
        expect(codePoints(out as string)).toBeLessThanOrEqual(n);
        expect(LONE.test(out as string) || (out as string).includes('\u0000')).toBe(false);
        if (codePoints(s) <= n && !LONE.test(s) && !s.includes('\u0000')) expect(out).toBe(s);
      }),
    );
  });

  it('CloudEvents source: a URI-reference of at most 256 ASCII characters', () => {
    expect(checkSource('urn:machpay:agent:7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU')).toMatch(/^urn:/);
    expect(checkSource('/gateways/eu-1?x=%20')).toBe('/gateways/eu-1?x=%20');
    for (const bad of ['', 'has space', 'é', 'bad%zz', 'x'.repeat(257)]) expect(() => checkSource(bad), bad).toThrow(MachPayConfigError);
  });
});
