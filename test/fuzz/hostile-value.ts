/**
 * The value tree the generators build and the two writers (json-writer.ts,
 * msgpack-writer.ts) serialise. Plain values cover what JSON.stringify could write; the
 * `Special` nodes cover what it cannot: integer literals beyond 2^53, raw invalid UTF-8,
 * duplicate keys, NaN in MessagePack floats, extension types, lying length headers, and
 * structures too deep or too long to build as objects.
 *
 * Objects are null-prototype, so a `__proto__` key is an own property like any other
 * (on `{}` assigning it would change the prototype instead).
 */

export type HostileValue = null | boolean | number | string | HostileValue[] | HostileObject | Special;
export interface HostileObject {
  [key: string]: HostileValue;
}

/** An object with no prototype, from `entries` in order. */
export function obj(entries: Record<string, HostileValue> | readonly (readonly [string, HostileValue])[] = []): HostileObject {
  const out = Object.create(null) as HostileObject;
  const list = Array.isArray(entries) ? entries : Object.entries(entries);
  for (const [k, v] of list as readonly (readonly [string, HostileValue])[]) out[k] = v;
  return out;
}

export function isHostileObject(v: HostileValue): v is HostileObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Special);
}

/** Deep copy of plain nodes (Special nodes are immutable and shared). */
export function cloneValue(v: HostileValue): HostileValue {
  if (Array.isArray(v)) return v.map(cloneValue);
  if (isHostileObject(v)) return obj(Object.keys(v).map((k) => [k, cloneValue(v[k] as HostileValue)] as const));
  return v;
}

export abstract class Special {
  abstract readonly kind: string;
}

/**
 * An integer written exactly: a JSON number literal of any size, and in MessagePack the
 * smallest int form (int 64 / uint 64 at the edges), or `mp` to force a form.
 */
export class IntLiteral extends Special {
  readonly kind = 'int';
  constructor(
    readonly value: bigint,
    readonly mp: 'auto' | 'u64' | 'i64' | 'f64' | 'f32' = 'auto',
  ) {
    super();
  }
}

/** Verbatim JSON text (`-0`, `1e309`, `1.0`, `NaN`); in MessagePack, `mp` is written instead. */
export class JsonText extends Special {
  readonly kind = 'json-text';
  constructor(
    readonly text: string,
    readonly mp: HostileValue = null,
  ) {
    super();
  }
}

/** A MessagePack float of the given width (NaN and ±Infinity included); JSON gets the literal text of `value`. */
export class MpFloat extends Special {
  readonly kind = 'float';
  constructor(
    readonly value: number,
    readonly width: 32 | 64 = 64,
  ) {
    super();
  }
}

/** A string whose bytes are given as is: invalid UTF-8, overlong forms, encoded surrogates. */
export class RawString extends Special {
  readonly kind = 'raw-string';
  constructor(readonly bytes: Uint8Array) {
    super();
  }
}

/** MessagePack bin; JSON has no such type and gets the bytes' base64 as a string. */
export class Bin extends Special {
  readonly kind = 'bin';
  constructor(readonly bytes: Uint8Array) {
    super();
  }
}

/** A MessagePack extension (type -1 is the timestamp); JSON gets null. */
export class Ext extends Special {
  readonly kind = 'ext';
  constructor(
    readonly type: number,
    readonly data: Uint8Array,
  ) {
    super();
  }
}

/** A map written from an ordered entry list: duplicate keys, and (MessagePack) non-string keys. */
export class Entries extends Special {
  readonly kind = 'entries';
  constructor(readonly entries: readonly (readonly [HostileValue, HostileValue])[]) {
    super();
  }
}

/** `depth` nested arrays (or single-key maps) around `leaf`, written without recursion. */
export class Deep extends Special {
  readonly kind = 'deep';
  constructor(
    readonly depth: number,
    readonly container: 'array' | 'map',
    readonly leaf: HostileValue = null,
  ) {
    super();
  }
}

/** An array of `count` copies of `element`, serialised once and repeated. */
export class Repeat extends Special {
  readonly kind = 'repeat';
  constructor(
    readonly count: number,
    readonly element: HostileValue,
  ) {
    super();
  }
}

/** A string of `unit` repeated `count` times, written without building it in a tree. */
export class LongString extends Special {
  readonly kind = 'long-string';
  constructor(
    readonly unit: string,
    readonly count: number,
  ) {
    super();
  }
}

/** A MessagePack array or map header that claims `count` items, followed by `present` nils; JSON gets `[`. */
export class LengthClaim extends Special {
  readonly kind = 'length-claim';
  constructor(
    readonly container: 'array' | 'map' | 'str' | 'bin',
    readonly count: number,
    readonly present = 0,
  ) {
    super();
  }
}
