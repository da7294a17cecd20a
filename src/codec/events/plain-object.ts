/**
 * The one test for "a JSON object": an object whose prototype is Object.prototype (or
 * none). JSON.parse and msgpackr (mapsAsObjects) build exactly those; arrays, Buffers
 * (MessagePack bin) and any other class instance fail it.
 */
export type PlainObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is PlainObject {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
