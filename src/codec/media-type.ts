/**
 * Content-Type and Content-Encoding of a request body (docs/protocol.md §2): which of the four
 * body forms it is and whether it is gzipped. Unsupported values are `null`; the caller
 * answers 415 `unsupported_media_type` / `unsupported_encoding`.
 */

export const BodyKind = { JsonBatch: 1, JsonSingle: 2, MsgpackBatch: 3, Binary: 4 } as const;
export type BodyKind = (typeof BodyKind)[keyof typeof BodyKind];

const KIND_BY_MEDIA_TYPE: ReadonlyMap<string, BodyKind> = new Map<string, BodyKind>([
  ['application/cloudevents-batch+json', BodyKind.JsonBatch],
  ['application/cloudevents+json', BodyKind.JsonSingle],
  ['application/cloudevents-batch+msgpack', BodyKind.MsgpackBatch],
  // CloudEvents HTTP binary mode: the caller checks the ce-* headers.
  ['application/json', BodyKind.Binary],
]);

/** A charset parameter, if present, must name UTF-8: the JSON forms are decoded as UTF-8 only. */
const UTF8_CHARSET = /^"?utf-?8"?$/i;

/**
 * `type/subtype *( ";" name=value )`, type case-insensitive. Parameters are ignored except
 * `charset`, which must be UTF-8 (a body declared in another charset would be misread).
 */
export function parseContentType(header: string): BodyKind | null {
  const semi = header.indexOf(';');
  const mediaType = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  const kind = KIND_BY_MEDIA_TYPE.get(mediaType);
  if (kind === undefined) return null;
  if (semi !== -1) {
    for (const param of header.slice(semi + 1).split(';')) {
      const eq = param.indexOf('=');
      if (eq === -1) {
        if (param.trim() === '') continue;
        return null; // a parameter without a value is malformed
      }
      if (param.slice(0, eq).trim().toLowerCase() === 'charset' && !UTF8_CHARSET.test(param.slice(eq + 1).trim())) {
        return null;
      }
    }
  }
  return kind;
}

/** `''` or `identity` → identity, `gzip` → gzip (case-insensitive, trimmed); anything else, lists included, → null. */
export function parseContentEncoding(header: string): 'identity' | 'gzip' | null {
  const value = header.trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip') return 'gzip';
  return null;
}
