import { describe, expect, it } from 'vitest';
import { BodyKind, parseContentEncoding, parseContentType } from '../../src/codec/index.js';

describe('parseContentType (docs/protocol.md §2)', () => {
  it.each([
    ['application/cloudevents-batch+json', BodyKind.JsonBatch],
    ['application/cloudevents+json', BodyKind.JsonSingle],
    ['application/cloudevents-batch+msgpack', BodyKind.MsgpackBatch],
    ['application/json', BodyKind.Binary],
  ])('%s', (header, kind) => {
    expect(parseContentType(header)).toBe(kind);
  });

  it('ignores case of the media type and surrounding whitespace', () => {
    expect(parseContentType('  Application/CloudEvents-Batch+JSON ')).toBe(BodyKind.JsonBatch);
    expect(parseContentType('APPLICATION/JSON')).toBe(BodyKind.Binary);
  });

  it('accepts parameters, a UTF-8 charset in any spelling, and unknown parameters', () => {
    expect(parseContentType('application/cloudevents-batch+json; charset=utf-8')).toBe(BodyKind.JsonBatch);
    expect(parseContentType('application/cloudevents+json;charset=UTF-8')).toBe(BodyKind.JsonSingle);
    expect(parseContentType('application/json; charset="utf-8"')).toBe(BodyKind.Binary);
    expect(parseContentType('application/json; charset=utf8')).toBe(BodyKind.Binary);
    expect(parseContentType('application/cloudevents-batch+msgpack; foo=bar; charset=utf-8')).toBe(BodyKind.MsgpackBatch);
    expect(parseContentType('application/json;')).toBe(BodyKind.Binary);
  });

  it('refuses other charsets and malformed parameters', () => {
    expect(parseContentType('application/json; charset=iso-8859-1')).toBeNull();
    expect(parseContentType('application/cloudevents+json; charset=utf-16')).toBeNull();
    expect(parseContentType('application/json; novalue')).toBeNull();
  });

  it.each(['', 'text/plain', 'application/msgpack', 'application/cloudevents+msgpack', 'application/jsonx', 'application/ json', 'application/cloudevents-batch+json,application/json'])(
    'refuses %j',
    (header) => {
      expect(parseContentType(header)).toBeNull();
    },
  );
});

describe('parseContentEncoding', () => {
  it.each([
    ['', 'identity'],
    ['identity', 'identity'],
    [' Identity ', 'identity'],
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['  gzip\t', 'gzip'],
  ] as const)('%j → %s', (header, expected) => {
    expect(parseContentEncoding(header)).toBe(expected);
  });

  it.each(['deflate', 'br', 'x-gzip', 'gzip, identity', 'gzip;q=1', 'zstd'])('refuses %j', (header) => {
    expect(parseContentEncoding(header)).toBeNull();
  });
});
