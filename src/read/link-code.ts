import { createHash, randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so a code read aloud or retyped is hard to get wrong. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const NORMAL = /^[0-9A-HJKMNP-TV-Z]{8}$/;

/** A fresh code: 40 random bits as 8 symbols, shown `ABCD-EFGH`; `normal` is what gets hashed. */
export function newLinkCode(): { shown: string; normal: string } {
  const bytes = randomBytes(5);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let normal = '';
  for (let i = 7; i >= 0; i--) normal += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return { shown: `${normal.slice(0, 4)}-${normal.slice(4)}`, normal };
}

/**
 * A code as typed → its normal form, or null. Any case, with or without dashes; the
 * letters Crockford's decoding maps (I and L to 1, O to 0) are accepted as those digits.
 */
export function normalizeLinkCode(input: string): string | null {
  if (input.length > 16) return null;
  const normal = input.replace(/-/g, '').toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0');
  return NORMAL.test(normal) ? normal : null;
}

/** Only this is stored: the code itself never reaches the database. */
export function hashLinkCode(normal: string): Buffer {
  return createHash('sha256').update(normal, 'ascii').digest();
}

export const LINK_CODE_TTL_MS = 10 * 60_000;
