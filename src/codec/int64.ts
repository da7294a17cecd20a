/**
 * Integer limits of the PostgreSQL columns, and exact int64 parsing. An int64 arrives as a
 * JS number (only when it is a safe integer: anything larger was already rounded by the
 * parser and cannot be trusted), as a decimal string (JSON, after json-body.ts quoted long
 * literals), or as a BigInt (MessagePack int 64 / uint 64 beyond 2^53: msgpackr's 'auto').
 */

export const INT16_MIN = -32768;
export const INT16_MAX = 32767;
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
export const INT64_MIN = -9223372036854775808n;
export const INT64_MAX = 9223372036854775807n;

/** `-9223372036854775808` is 20 characters; longer strings (padding zeros included) are refused unparsed. */
const MAX_INT64_TEXT = 20;
const DECIMAL = /^-?\d+$/;
const INT64_MAX_DIGITS = '9223372036854775807';
const INT64_MIN_DIGITS = '9223372036854775808';

/**
 * An int64 as a number when it is a safe integer given as a number or in at most 15
 * digits, otherwise as its canonical decimal string (no leading zeros; either form is
 * written the same way); `null` when `v` is not an int64. Strings are checked by shape and length before
 * BigInt sees them, so hostile input never costs more than a 20-character parse.
 */
export function parseInt64(v: unknown): number | string | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v + 0 /* -0 → 0 */ : null;
  if (typeof v === 'bigint') return v < INT64_MIN || v > INT64_MAX ? null : Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_INT64_TEXT || !DECIMAL.test(v)) return null;
  // Up to 15 digits (and a sign) is always below 2^53: no BigInt needed.
  if (v.length <= 15) return Number(v) + 0;
  // Canonical (no leading zero) text is compared as text: equal digit counts compare like
  // numbers, so the common 64-bit nonce needs no BigInt at all.
  const negative = v.charCodeAt(0) === 45;
  const digits = negative ? v.length - 1 : v.length;
  if (v.charCodeAt(negative ? 1 : 0) !== 48 /* '0' */) {
    if (digits < 19) return digits <= 15 ? Number(v) : v;
    if (digits > 19) return null;
    return v.slice(negative ? 1 : 0) <= (negative ? INT64_MIN_DIGITS : INT64_MAX_DIGITS) ? v : null;
  }
  // Leading zeros (rare): let BigInt canonicalise.
  const big = BigInt(v);
  if (big < INT64_MIN || big > INT64_MAX) return null;
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : big.toString();
}

/** `parseInt64` restricted to values >= 0. */
export function parseNonNegativeInt64(v: unknown): number | string | null {
  const r = parseInt64(v);
  if (r === null) return null;
  if (typeof r === 'number') return r >= 0 ? r : null;
  return r.charCodeAt(0) === 45 /* '-' */ ? null : r;
}

/**
 * Exact running sum of int64 values. Stays in plain numbers while the sum is a safe
 * integer (the common case) and moves to BigInt only when it must.
 */
export class Int64Sum {
  private small = 0;
  private big: bigint | null = null;

  reset(): void {
    this.small = 0;
    this.big = null;
  }

  add(v: number | string): void {
    if (this.big === null && typeof v === 'number') {
      const s = this.small + v;
      if (Number.isSafeInteger(s)) {
        this.small = s;
        return;
      }
    }
    this.big = (this.big ?? BigInt(this.small)) + BigInt(v);
  }

  /** The sum as `parseInt64` would return it, or null when it does not fit int64. */
  value(): number | string | null {
    if (this.big === null) return this.small;
    if (this.big < INT64_MIN || this.big > INT64_MAX) return null;
    const n = Number(this.big);
    return Number.isSafeInteger(n) ? n : this.big.toString();
  }
}
