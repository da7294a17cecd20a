/**
 * Hostile values per field kind, each with what docs/protocol.md §2/§5 says must happen to the
 * event carrying it. `reject` only where the page is explicit (wrong type, out of the
 * column's range or length, missing when required); `either` where it is silent (NUL and
 * lone surrogates PostgreSQL cannot store, `-0`, `5.0`, leading zeros, null for optional).
 */
import { Bin, Entries, Ext, IntLiteral, JsonText, LongString, MpFloat, RawString, obj, type HostileValue } from './hostile-value.js';

/** Marks a field to delete. */
export const DELETE = Symbol('delete');
export type MutantValue = HostileValue | typeof DELETE;

export type Codec = 'json' | 'msgpack';

export interface Mutant {
  name: string;
  value: MutantValue;
  verdict: 'accept' | 'reject' | 'either';
  /** Canonical stored text when accepted (column checks and int64 keys); null = SQL NULL; undefined = not checked. */
  stored?: string | null;
  /** Only meaningful in this codec (NaN floats, ext, literal text). */
  codec?: Codec;
  /** The whole body may (or must) be invalid_body because of this value. */
  body?: 'invalid' | 'maybe-invalid';
}

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);
export const INT32_MAX = 2147483647;

const accept = (name: string, value: MutantValue, stored?: string | null): Mutant => ({ name, value, verdict: 'accept', ...(stored === undefined ? {} : { stored }) });
const reject = (name: string, value: MutantValue, extra: Partial<Mutant> = {}): Mutant => ({ name, value, verdict: 'reject', ...extra });
const either = (name: string, value: MutantValue, stored?: string | null, extra: Partial<Mutant> = {}): Mutant => ({
  name,
  value,
  verdict: 'either',
  ...(stored === undefined ? {} : { stored }),
  ...extra,
});

/** Values of the wrong JSON type for any scalar field. */
function wrongTypes(except: 'string' | 'number' | 'boolean'): Mutant[] {
  const out: Mutant[] = [
    reject('array', []),
    reject('object', obj()),
    reject('object-with-__proto__', obj([['__proto__', 'x']])),
    reject('nested-array', [[1, 2], ['x']]),
    reject('msgpack-bin', new Bin(Uint8Array.of(1, 2, 3)), { codec: 'msgpack', body: 'maybe-invalid' }),
    reject('msgpack-ext', new Ext(5, Uint8Array.of(1, 2, 3, 4)), { codec: 'msgpack', body: 'maybe-invalid' }),
    reject('msgpack-timestamp-ext', new Ext(-1, Uint8Array.of(0, 0, 0, 0)), { codec: 'msgpack', body: 'maybe-invalid' }),
  ];
  if (except !== 'string') out.push(reject('string', 'x'), reject('empty-string', ''));
  if (except !== 'number') out.push(reject('number', 42));
  if (except !== 'boolean') out.push(reject('true', true), reject('false', false));
  return out;
}

function presence(required: boolean): Mutant[] {
  return required ? [reject('missing', DELETE), reject('null', null)] : [accept('missing', DELETE, null), either('null', null, null)];
}

/** Invalid JSON number syntax: the whole body is invalid. */
const JSON_SYNTAX: Mutant[] = [
  reject('json-NaN', new JsonText('NaN'), { codec: 'json', body: 'invalid' }),
  reject('json-Infinity', new JsonText('-Infinity'), { codec: 'json', body: 'invalid' }),
  reject('json-hex-literal', new JsonText('0x10'), { codec: 'json', body: 'invalid' }),
  reject('json-leading-zero', new JsonText('007'), { codec: 'json', body: 'invalid' }),
  reject('json-plus', new JsonText('+1'), { codec: 'json', body: 'invalid' }),
  reject('json-bare-dot', new JsonText('.5'), { codec: 'json', body: 'invalid' }),
];

/**
 * int64 fields (`nonce`, `*_atomic`, `*_lamports`). `negatives`: what a negative value is
 * (reject for amount_atomic ≥ 0, accept for nonce, either where §5 gives no sign).
 */
export function int64Mutants(required: boolean, negatives: 'accept' | 'reject' | 'either'): Mutant[] {
  return cached(`int64|${required}|${negatives}`, () => buildInt64Mutants(required, negatives));
}

function buildInt64Mutants(required: boolean, negatives: 'accept' | 'reject' | 'either'): Mutant[] {
  const neg = (name: string, value: MutantValue, stored: string): Mutant =>
    negatives === 'reject' ? reject(name, value) : { name, value, verdict: negatives, stored };
  return [
    ...presence(required),
    accept('int64-max-literal', new IntLiteral(I64_MAX), I64_MAX.toString()),
    accept('int64-max-string', I64_MAX.toString(), I64_MAX.toString()),
    accept('2^53+1-literal', new IntLiteral(2n ** 53n + 1n), (2n ** 53n + 1n).toString()),
    accept('2^53+1-string', (2n ** 53n + 1n).toString(), (2n ** 53n + 1n).toString()),
    accept('zero', 0, '0'),
    accept('zero-string', '0', '0'),
    accept('small-string', '123', '123'),
    accept('msgpack-uint64-small', new IntLiteral(5n, 'u64'), '5'),
    accept('msgpack-int64-small', new IntLiteral(5n, 'i64'), '5'),
    neg('int64-min-literal', new IntLiteral(I64_MIN), I64_MIN.toString()),
    neg('int64-min-string', I64_MIN.toString(), I64_MIN.toString()),
    neg('minus-one', -1, '-1'),
    neg('minus-one-string', '-1', '-1'),
    neg('msgpack-int64-min', new IntLiteral(I64_MIN, 'i64'), I64_MIN.toString()),
    either('minus-zero-literal', new JsonText('-0', 0), '0'),
    either('minus-zero-string', '-0', '0'),
    either('float-form-5.0', new JsonText('5.0', new IntLiteral(5n, 'f64')), '5'),
    either('exponent-1E3', new JsonText('1E3', new IntLiteral(1000n, 'f64')), '1000'),
    either('msgpack-float32-7', new IntLiteral(7n, 'f32'), '7', { codec: 'msgpack' }),
    either('plus-string', '+5', '5'),
    either('leading-zeros-string', '007', '7'),
    either('leading-zeros-22-chars', '0000000000000000000005', '5'),
    reject('2^63-literal', new IntLiteral(2n ** 63n)),
    reject('2^63-string', (2n ** 63n).toString()),
    reject('-2^63-1-literal', new IntLiteral(I64_MIN - 1n)),
    reject('-2^63-1-string', (I64_MIN - 1n).toString()),
    reject('2^64-literal', new IntLiteral(2n ** 64n)),
    reject('2^64-string', (2n ** 64n).toString()),
    reject('uint64-max', new IntLiteral(2n ** 64n - 1n, 'u64')),
    reject('10^30-literal', new IntLiteral(10n ** 30n)),
    reject('1e309', new JsonText('1e309', new MpFloat(Infinity))),
    reject('-1e309', new JsonText('-1e309', new MpFloat(-Infinity))),
    reject('1.5', new JsonText('1.5', new MpFloat(1.5))),
    reject('msgpack-NaN-f32', new MpFloat(NaN, 32), { codec: 'msgpack' }),
    reject('msgpack-NaN-f64', new MpFloat(NaN, 64), { codec: 'msgpack' }),
    reject('msgpack-inf-f32', new MpFloat(Infinity, 32), { codec: 'msgpack' }),
    reject('hex-string', '0x10'),
    reject('leading-space-string', ' 1'),
    reject('trailing-space-string', '1 '),
    reject('exponent-string', '1e3'),
    reject('fraction-string', '1.0'),
    reject('fullwidth-digits', '１２'),
    reject('arabic-indic-digit', '٣'),
    reject('NaN-string', 'NaN'),
    reject('empty-string', ''),
    reject('bool', true),
    reject('array', [1]),
    reject('object', obj([['value', 1]])),
    reject('msgpack-bin', new Bin(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1)), { codec: 'msgpack', body: 'maybe-invalid' }),
    ...JSON_SYNTAX,
  ];
}

/** INT / SMALLINT columns and bounded counters: [min, max]; `belowMin`: what min − 1 is. */
export function intMutants(min: number, max: number, required: boolean, belowMin: 'reject' | 'either' = 'reject'): Mutant[] {
  return cached(`int|${min}|${max}|${required}|${belowMin}`, () => buildIntMutants(min, max, required, belowMin));
}

function buildIntMutants(min: number, max: number, required: boolean, belowMin: 'reject' | 'either'): Mutant[] {
  const mid = Math.floor((min + max) / 2);
  const out: Mutant[] = [
    ...presence(required),
    accept('min', min, String(min)),
    accept('max', max, String(max)),
    accept('mid', mid, String(mid)),
    { name: 'min-1', value: min - 1, verdict: belowMin, ...(belowMin === 'either' ? { stored: String(min - 1) } : {}) },
    reject('max+1', max + 1),
    reject('max+65536', max + 65536),
    reject('1.5-over-min', new JsonText(`${min}.5`, new MpFloat(min + 0.5))),
    reject('numeric-string', String(mid)),
    reject('2^63', new IntLiteral(2n ** 63n)),
    reject('1e309', new JsonText('1e309', new MpFloat(Infinity))),
    reject('msgpack-NaN', new MpFloat(NaN, 32), { codec: 'msgpack' }),
    reject('msgpack-uint64', new IntLiteral(2n ** 64n - 1n, 'u64'), { codec: 'msgpack' }),
    either('float-form', new JsonText(`${mid}.0`, new IntLiteral(BigInt(mid), 'f64')), String(mid)),
    // A MessagePack integer is an integer whichever width the encoder chose (some always use 64 bits).
    ...[
      accept('msgpack-int64-form', new IntLiteral(BigInt(mid), 'i64'), String(mid)),
      accept('msgpack-uint64-form', new IntLiteral(BigInt(max), 'u64'), String(max)),
    ].map((m) => ({ ...m, codec: 'msgpack' as const })),
    either('exponent-form', new JsonText(`${mid}e0`, new IntLiteral(BigInt(mid), 'f64')), String(mid)),
    ...wrongTypes('number'),
    ...JSON_SYNTAX,
  ];
  if (min <= 0 && max >= 0) out.push(either('minus-zero', new JsonText('-0', 0), '0'));
  return out;
}

export function boolMutants(required: boolean): Mutant[] {
  return cached(`bool|${required}`, () => [
    ...presence(required),
    accept('true', true, 'true'),
    accept('false', false, 'false'),
    reject('string-true', 'true'),
    reject('string-false', 'false'),
    reject('one', 1),
    reject('zero', 0),
    reject('json-tru', new JsonText('tru'), { codec: 'json', body: 'invalid' }),
    ...wrongTypes('boolean'),
  ]);
}

/** risk_score: a number from 0 to 1. */
export function unitIntervalMutants(): Mutant[] {
  return cached('unit', () => [
    ...presence(false),
    accept('zero', 0),
    accept('one', 1),
    accept('half', 0.5),
    accept('denormal', 5e-324),
    either('minus-zero', new JsonText('-0', new MpFloat(-0))),
    either('msgpack-float32', new MpFloat(0.25, 32), undefined, { codec: 'msgpack' }),
    reject('just-below-0', -1e-9),
    reject('just-above-1', 1.0000001),
    reject('two', 2),
    reject('string', '0.5'),
    reject('1e309', new JsonText('1e309', new MpFloat(Infinity))),
    reject('msgpack-NaN', new MpFloat(NaN, 64), { codec: 'msgpack' }),
    reject('msgpack-inf', new MpFloat(Infinity, 32), { codec: 'msgpack' }),
    ...wrongTypes('number').filter((m) => m.name !== 'string'),
  ]);
}

const NASTY_PIECES = ['\\', '\t', '\n', '\r', '\\N', '\\.', '"', "'", '\u0001', '\u007f', '\u2028', 'é', '😀', '𝄞', '__proto__', ' ', '\u202e', '{}', '%s'];

/** A storable string of exactly `n` code points (or up to `n`) built from the nasty pieces. */
function nastyString(rng: () => number, n: number): string {
  const parts: string[] = [];
  let count = 0;
  while (count < n) {
    const piece = NASTY_PIECES[Math.floor(rng() * NASTY_PIECES.length)] as string;
    const len = [...piece].length;
    if (count + len > n) break;
    parts.push(piece);
    count += len;
  }
  while (count < n) {
    parts.push('x');
    count++;
  }
  return parts.join('');
}

const ENCODER = new TextEncoder();

/**
 * Mutant lists are built once per field kind and reused (building the long boundary strings
 * for every case would dominate the fuzzer's own CPU time). Text lists are built around
 * this placeholder, which `personalise` swaps for the case's own unique prefix (same length).
 */
export const UNIQUE_LENGTH = 6;
const PLACEHOLDER = '\u0001'.repeat(UNIQUE_LENGTH);
const PLACEHOLDER_BYTES = ENCODER.encode(PLACEHOLDER);
const cache = new Map<string, Mutant[]>();

function cached(key: string, build: () => Mutant[]): Mutant[] {
  let list = cache.get(key);
  if (list === undefined) {
    list = build();
    cache.set(key, list);
  }
  return list;
}

/** `f`, called once: for mutant lists derived (filtered) from cached ones. */
export function memo<T>(f: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= f());
}

/** `m` with the placeholder prefix replaced by `unique` (exactly UNIQUE_LENGTH ASCII characters). */
export function personalise(m: Mutant, unique: string): Mutant {
  if (unique.length !== UNIQUE_LENGTH) throw new Error(`unique prefix must have ${UNIQUE_LENGTH} characters: ${JSON.stringify(unique)}`);
  const swap = (s: string): string => (s.startsWith(PLACEHOLDER) ? unique + s.slice(UNIQUE_LENGTH) : s);
  let value = m.value;
  if (typeof value === 'string') value = swap(value);
  else if (value instanceof RawString && Buffer.from(value.bytes.subarray(0, UNIQUE_LENGTH)).equals(PLACEHOLDER_BYTES)) {
    value = new RawString(Uint8Array.of(...ENCODER.encode(unique), ...value.bytes.subarray(UNIQUE_LENGTH)));
  }
  return { ...m, value, ...(typeof m.stored === 'string' ? { stored: swap(m.stored) } : {}) };
}

function nastyMix(s: string): Mutant {
  return accept('nasty-mix', s, s);
}

/**
 * VARCHAR(max) (max null: TEXT). `unique` (UNIQUE_LENGTH characters) prefixes boundary
 * strings so that stored copies can be told apart. Lengths count code points, as VARCHAR does.
 */
export function textMutants(max: number | null, required: boolean): Mutant[] {
  return cached(`text|${max}|${required}`, () => buildTextMutants(max, required, PLACEHOLDER));
}

function buildTextMutants(max: number | null, required: boolean, unique: string): Mutant[] {
  // Fixed mixes (the list is cached): a tiny PRNG so they differ from one another.
  let state = 0x2545f491 ^ (max ?? 7);
  const rng = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  // Exactly n code points: the unique prefix, then `unit` repeated.
  const fill = (unit: string, n: number): string => [...(unique + unit.repeat(n))].slice(0, n).join('');
  const limit = max ?? 4096;
  const out: Mutant[] = [
    ...presence(required),
    accept('ascii', unique, unique),
    ...Array.from({ length: 4 }, () => nastyMix(unique + nastyString(rng, Math.max(0, Math.min(limit, 40) - UNIQUE_LENGTH)))),
    accept('at-limit-ascii', fill('a', limit), fill('a', limit)),
    accept('at-limit-emoji', fill('😀', limit), fill('😀', limit)),
    accept('at-limit-rtl', fill('ש', limit), fill('ש', limit)),
    accept('at-limit-combining', fill('e\u0301', limit), fill('e\u0301', limit)),
    accept('copy-escapes', `${unique}\\N\t\\.\r\n\\`, `${unique}\\N\t\\.\r\n\\`),
    either('nul-inside', `${unique}\u0000x`),
    // In MessagePack a lone surrogate can only travel as invalid UTF-8 bytes: the whole body is refused.
    either('lone-high-surrogate', `${unique}\ud800`, undefined, { body: 'maybe-invalid' }),
    either('lone-low-surrogate', `${unique}\udc00x`, undefined, { body: 'maybe-invalid' }),
    either('invalid-utf8-ff', new RawString(Uint8Array.of(...ENCODER.encode(unique), 0xff, 0x41)), undefined, { body: 'maybe-invalid' }),
    either('overlong-slash', new RawString(Uint8Array.of(...ENCODER.encode(unique), 0xc0, 0xaf)), undefined, { body: 'maybe-invalid' }),
    either('encoded-surrogate', new RawString(Uint8Array.of(...ENCODER.encode(unique), 0xed, 0xa0, 0x80)), undefined, { body: 'maybe-invalid' }),
    either('above-u10ffff', new RawString(Uint8Array.of(...ENCODER.encode(unique), 0xf4, 0x90, 0x80, 0x80)), undefined, { body: 'maybe-invalid' }),
    either('truncated-utf8', new RawString(Uint8Array.of(...ENCODER.encode(unique), 0xe2, 0x82)), undefined, { body: 'maybe-invalid' }),
    ...wrongTypes('string'),
  ];
  if (max !== null) {
    out.push(
      reject('over-limit-ascii', fill('a', max + 1)),
      reject('over-limit-emoji', fill('😀', max + 1)),
      reject('huge-100k', new LongString('a', 100_000)),
    );
  } else {
    // TEXT has no length in the DDL; a receiver may still cap it (see the report), so either.
    out.push(either('long-5000', fill('a', 5000)), either('huge-200k', new LongString('é', 200_000)));
  }
  if (!required) out.push(either('empty', '', ''));
  else out.push(reject('empty', ''));
  return out;
}

/** Duplicate keys: last-wins and first-wins parsers both exist, so the event is either. */
export function duplicateKeyEntries(entries: readonly (readonly [string, HostileValue])[], dupKey: string, second: HostileValue): Entries {
  const out: [HostileValue, HostileValue][] = entries.map(([k, v]) => [k, v]);
  out.push([dupKey, second]);
  return new Entries(out);
}
