/**
 * What PostgreSQL accepts as text. A UTF-8 database stores any Unicode scalar value except
 * U+0000, and `jsonb` also refuses `\ud800`-style escapes of unpaired surrogates, so both are
 * refused in every string we store. VARCHAR(n) counts characters (code points), not UTF-16
 * units, so an emoji counts once. (A SQL_ASCII database would count bytes: the schema
 * assumes a UTF8 database.)
 */

/** Matches the only code units that need a closer look: NUL and any surrogate half. */
const SUSPECT = /[\u0000\ud800-\udfff]/;
/** SUSPECT plus what COPY text must escape (copy-text-writer.ts): one scan answers both questions for plain text. */
const SUSPECT_OR_COPY_SPECIAL = /[\u0000\ud800-\udfff\\\t\n\r]/;
/** An unpaired surrogate: a high half not followed by a low one, or a low half not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when PostgreSQL stores `s` unchanged in text, varchar and jsonb. */
export function isStorableText(s: string): boolean {
  // Fast path: one regex scan answers for the usual ASCII or BMP text.
  if (!SUSPECT.test(s)) return true;
  return s.indexOf('\u0000') === -1 && !LONE_SURROGATE.test(s);
}

/** `textClass` results. */
export const TEXT_PLAIN = 0; // storable, and written to COPY as is
export const TEXT_NEEDS_ESCAPE = 1; // storable, has a backslash, TAB, LF or CR
export const TEXT_UNSTORABLE = 2; // NUL or an unpaired surrogate

/**
 * Storability and COPY escaping in one regex scan for the common case (the field writers
 * call this for every string of every event).
 */
export function textClass(s: string): number {
  if (!SUSPECT_OR_COPY_SPECIAL.test(s)) return TEXT_PLAIN;
  return isStorableText(s) ? TEXT_NEEDS_ESCAPE : TEXT_UNSTORABLE;
}

/** Number of code points of well-formed `s`, the unit of VARCHAR(n). */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--; // a pair is one code point; well-formedness was checked first
  }
  return n;
}

/** True when well-formed `s` has at most `max` code points; counts only when UTF-16 length is ambiguous. */
export function fitsVarchar(s: string, max: number): boolean {
  if (s.length <= max) return true;
  if (s.length > 2 * max) return false;
  return codePointLength(s) <= max;
}
