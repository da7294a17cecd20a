/**
 * Hostile bodies as a whole, correctly signed or keyed: truncated and corrupted JSON and
 * MessagePack, bodies of the wrong form, gzip that is truncated, corrupt, stacked or a
 * bomb, limits (events, bytes as sent, bytes decoded) at and past the edge, and random
 * byte flips (the one kind whose outcome cannot be predicted: sent as the 'opaque' agent).
 */
import { isUtf8 } from 'node:buffer';
import { deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { buildValidEvent, kindsFor, type CaseIdentity } from './event-model.js';
import { validEvent, type BuiltEvent } from './event-mutations.js';
import { allRejected, eventsOutcomes, union } from './expectations.js';
import { CONTENT_TYPES, PATHS, authFor, b64, bodyOutcomes, someEvent, type Media } from './events-case.js';
import { memo, type Codec } from './field-mutants.js';
import type { EndpointName, EventExpectation, HttpCase, Outcome } from './fuzz-case.js';
import { Deep, LengthClaim, LongString, Repeat, obj, type HostileValue } from './hostile-value.js';
import { writeJson } from './json-writer.js';
import { writeMsgpack } from './msgpack-writer.js';
import type { Prng } from './prng.js';
import { pickSender, type RunEnv } from './run-env.js';

const MiB = 1024 * 1024;
export const MAX_BODY_BYTES = 1 * MiB;
export const MAX_DECODED_BYTES = 8 * MiB;
export const MAX_EVENTS = 1000;

interface EventsBody {
  endpoint: EndpointName;
  seed: string;
  ident: CaseIdentity;
  media: Exclude<Media, 'binary'>;
  events: BuiltEvent[];
  raw: Uint8Array;
}

function eventsBody(rng: Prng, env: RunEnv, caseIndex: number, opts: { media?: Exclude<Media, 'binary'>; pValid?: number; opaque?: boolean; n?: number } = {}): EventsBody {
  const endpoint: EndpointName = rng.chance(0.7) ? 'agent' : 'ingest';
  const { ident, seed } = pickSender(rng, env, endpoint, caseIndex, opts.opaque === true);
  const media = opts.media ?? rng.pick(['json-batch', 'json-batch', 'msgpack', 'json-single'] as const);
  const codec: Codec = media === 'msgpack' ? 'msgpack' : 'json';
  const n = media === 'json-single' ? 1 : (opts.n ?? rng.range(1, 4));
  const events = Array.from({ length: n }, (_, k) => someEvent(rng, ident, codec, k, opts.pValid ?? 0.7));
  const value = media === 'json-single' ? (events[0] as BuiltEvent).value : events.map((e) => e.value);
  return { endpoint, seed, ident, media, events, raw: media === 'msgpack' ? writeMsgpack(value) : writeJson(value) };
}

function httpCase(
  category: string,
  name: string,
  b: Pick<EventsBody, 'endpoint' | 'seed'>,
  body: Uint8Array,
  headers: [string, string][],
  outcomes: Outcome[] | 'any',
  events: EventExpectation[] | undefined,
  extra: { mayClose?: boolean; opaque?: boolean } = {},
): HttpCase {
  return {
    kind: 'http',
    category,
    name,
    method: 'POST',
    path: PATHS[b.endpoint],
    endpoint: b.endpoint,
    headers,
    body: b64(body),
    auth: authFor(b.endpoint, b.seed, extra.opaque === true),
    expect: { outcomes, ...(events === undefined ? {} : { events }), ...extra },
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const JSON_WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Truncated, extended or corrupted JSON and MessagePack bodies. */
export function corruptionCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const b = eventsBody(rng, env, caseIndex);
  const json = b.media !== 'msgpack';
  const ct: [string, string] = ['content-type', CONTENT_TYPES[b.media]];
  const evs = b.events.map((e) => e.expect);
  const refused = allRejected(evs);
  const ok = bodyOutcomes(b.media, b.events);
  const cat = 'body-corruption';
  type Make = () => HttpCase;
  const makers: Make[] = [
    () => {
      const at = rng.int(b.raw.length);
      return httpCase(cat, `${b.media} truncated at ${at}/${b.raw.length}`, b, b.raw.subarray(0, at), [ct], ['invalid_body'], refused);
    },
    () => {
      let garbage = rng.bytes(rng.range(1, 16));
      if (json && JSON_WS.has(garbage[0] as number)) garbage = concat(Uint8Array.of(0x78), garbage);
      return httpCase(cat, `${b.media} trailing garbage`, b, concat(b.raw, garbage), [ct], ['invalid_body'], refused);
    },
    () => {
      const extra = b.raw[0] === 0x5b ? ',' : '{}';
      return httpCase(cat, `${b.media} second document`, b, concat(b.raw, new TextEncoder().encode(json ? extra : '\x90')), [ct], ['invalid_body'], refused);
    },
    () => {
      if (!json) return httpCase(cat, 'msgpack empty', b, new Uint8Array(0), [ct], ['invalid_body'], refused);
      return httpCase(cat, `${b.media} trailing whitespace`, b, concat(b.raw, new TextEncoder().encode(' \n\t\r ')), [ct], ok, evs);
    },
    () => {
      if (!json) return httpCase(cat, 'msgpack nil body', b, Uint8Array.of(0xc0), [ct], ['invalid_body'], refused);
      return httpCase(cat, `${b.media} UTF-8 BOM`, b, concat(Uint8Array.of(0xef, 0xbb, 0xbf), b.raw), [ct], union(ok, ['invalid_body']), evs);
    },
    () => {
      const at = rng.int(b.raw.length + 1);
      const bad = rng.pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]]);
      if (!json) return httpCase(cat, 'msgpack top-level str', b, writeMsgpack('not an array'), [ct], ['invalid_body'], refused);
      const body = concat(b.raw.subarray(0, at), Uint8Array.from(bad), b.raw.subarray(at));
      const name = `${b.media} raw bytes ${bad.map((x) => x.toString(16)).join(' ')} at ${at}`;
      // A byte >= 0x80 can complete a sequence an event mutation left truncated just before it
      // (E2 82 + 80 = U+20AC): the body is then valid UTF-8, and the event in it decides.
      if ((bad[0] as number) >= 0x80 && isUtf8(body)) return httpCase(cat, name, b, body, [ct], 'any', evs.map((e) => ({ ...e, verdict: 'either' as const })));
      return httpCase(cat, name, b, body, [ct], ['invalid_body'], refused);
    },
    () => {
      // Another body form than the Content-Type says.
      const other = rng.pick(Object.keys(CONTENT_TYPES).filter((m) => m !== b.media)) as Exclude<Media, 'binary'>;
      const arrayVsObject = b.media !== 'msgpack' && other !== 'msgpack';
      return httpCase(cat, `${b.media} sent as ${other}`, b, b.raw, [['content-type', CONTENT_TYPES[other]]], arrayVsObject ? ['invalid_body', 'no_valid_events'] : ['invalid_body'], refused);
    },
    () => {
      const top = json
        ? rng.pick(['{}', '"events"', 'null', '42', 'true', '', ' ', '[', ']', '[,]', '[{},]', "['x']", '/* c */[]', '[1e999]', 'nul'])
        : rng.pick(['map', 'nil', 'empty', 'fixstr', 'array16-short', 'reserved-c1']);
      const body = json
        ? new TextEncoder().encode(top)
        : { map: Uint8Array.of(0x80), nil: Uint8Array.of(0xc0), empty: new Uint8Array(0), fixstr: Uint8Array.of(0xa1, 0x61), 'array16-short': Uint8Array.of(0xdc, 0x00), 'reserved-c1': Uint8Array.of(0x91, 0xc1) }[top] ?? new Uint8Array(0);
      return httpCase(cat, `${b.media} top-level ${JSON.stringify(top)}`, b, body, [ct], ['invalid_body', 'no_valid_events'], undefined);
    },
    () => {
      const empty = json ? new TextEncoder().encode(b.media === 'json-single' ? '{}' : '[]') : Uint8Array.of(0x90);
      return httpCase(cat, `${b.media} empty batch`, b, empty, [ct], ['no_valid_events', 'invalid_body'], b.media === 'json-single' ? undefined : []);
    },
    () => {
      // A MessagePack length header that lies: far more items or bytes than the body holds.
      const claim = rng.pick([
        new LengthClaim('array', 0xffffffff),
        new LengthClaim('array', 2000, 3),
        new LengthClaim('map', 0xffffffff),
        new LengthClaim('str', 0xfffffff0, 4),
        new LengthClaim('bin', 0x7fffffff, 4),
      ]);
      const body = claim.container === 'array' ? writeMsgpack(claim) : writeMsgpack([obj([['specversion', '1.0'], ['data', claim]])]);
      return httpCase(cat, `msgpack ${claim.container} claims ${claim.count}`, b, body, [['content-type', CONTENT_TYPES.msgpack]], ['invalid_body', 'too_many_events'], refused);
    },
    () => {
      const depth = rng.pick([33, 1000, 10_000, 100_000]);
      const container = rng.pick(['array', 'map'] as const);
      const body = json ? writeJson([new Deep(depth, container)]) : writeMsgpack([new Deep(depth, container)]);
      return httpCase(cat, `${b.media} nested ${depth} ${container}s`, b, body, [ct], ['invalid_body', 'no_valid_events'], b.media === 'json-single' ? undefined : [{ verdict: 'reject', codes: ['invalid_event'], id: null, mutation: 'deep' }]);
    },
  ];
  return rng.pick(makers)();
}

/** What a correct bounded gunzip makes of `body`: the original bytes, or the §6 code of its failure. */
function inflateOutcome(body: Uint8Array, original: Uint8Array): 'same' | 'invalid_body' | 'body_too_large' {
  try {
    const out = gunzipSync(body, { maxOutputLength: MAX_DECODED_BYTES });
    return Buffer.compare(out, original) === 0 ? 'same' : 'invalid_body';
  } catch (err) {
    return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'body_too_large' : 'invalid_body';
  }
}

/** A gzip member with header fields set (FNAME, FCOMMENT, FEXTRA): valid gzip that many decoders skip. */
function gzipWithHeaderFields(plain: Uint8Array, rng: Prng): { body: Uint8Array; valid: boolean; name: string } {
  const deflated = gzipSync(plain).subarray(10);
  const kind = rng.pick(['fname', 'fcomment', 'fextra', 'fextra-lying', 'fhcrc-wrong'] as const);
  const head = (flg: number): number[] => [0x1f, 0x8b, 0x08, flg, 0, 0, 0, 0, 0, 0xff];
  switch (kind) {
    case 'fname':
      return { body: concat(Uint8Array.from(head(0x08)), new TextEncoder().encode('events.json\0'), deflated), valid: true, name: kind };
    case 'fcomment':
      return { body: concat(Uint8Array.from(head(0x10)), new TextEncoder().encode('x'.repeat(5000) + '\0'), deflated), valid: true, name: kind };
    case 'fextra':
      return { body: concat(Uint8Array.from(head(0x04)), Uint8Array.of(4, 0, 0x41, 0x42, 0, 0), deflated), valid: true, name: kind };
    case 'fextra-lying':
      return { body: concat(Uint8Array.from(head(0x04)), Uint8Array.of(0xff, 0xff, 0x41, 0x42), deflated), valid: false, name: kind };
    default:
      return { body: concat(Uint8Array.from(head(0x02)), Uint8Array.of(0x12, 0x34), deflated), valid: false, name: kind };
  }
}

let bombs: { zeros9: Uint8Array; zeros64: Uint8Array; jsonSpaces: Uint8Array } | null = null;

/** Gzip bombs are made once per process: compressing 64 MiB takes a moment. */
export function gzipBombs(): NonNullable<typeof bombs> {
  bombs ??= {
    zeros9: new Uint8Array(gzipSync(Buffer.alloc(9 * MiB), { level: 9 })),
    zeros64: new Uint8Array(gzipSync(Buffer.alloc(64 * MiB), { level: 9 })),
    jsonSpaces: new Uint8Array(gzipSync(Buffer.concat([Buffer.from('['), Buffer.alloc(MAX_DECODED_BYTES, 0x20), Buffer.from(']')]), { level: 9 })),
  };
  return bombs;
}

/** Content-Encoding: gzip that is hostile, and Content-Encoding values that are not gzip. */
export function gzipCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const b = eventsBody(rng, env, caseIndex, { media: rng.pick(['json-batch', 'msgpack'] as const) });
  const ct: [string, string] = ['content-type', CONTENT_TYPES[b.media]];
  const ce: [string, string] = ['content-encoding', 'gzip'];
  const gz = new Uint8Array(gzipSync(b.raw));
  const evs = b.events.map((e) => e.expect);
  const refused = allRejected(evs);
  const ok = bodyOutcomes(b.media, b.events);
  const cat = 'gzip';
  const makers: (() => HttpCase)[] = [
    () => {
      const at = rng.int(gz.length);
      return httpCase(cat, `gzip truncated at ${at}/${gz.length}`, b, gz.subarray(0, at), [ct, ce], ['invalid_body'], refused);
    },
    () => {
      const at = rng.range(10, gz.length - 1);
      const body = new Uint8Array(gz);
      body[at] = (body[at] as number) ^ (1 << rng.int(8));
      // Most flips break the stream or its CRC; one in the padding bits of the last deflate
      // byte changes nothing. zlib (not the receiver's code) says which this one is.
      const decoded = inflateOutcome(body, b.raw);
      return decoded === 'same'
        ? httpCase(cat, `gzip bit flip at ${at}/${gz.length} (padding: same data)`, b, body, [ct, ce], ok, evs)
        : httpCase(cat, `gzip bit flip at ${at}/${gz.length}`, b, body, [ct, ce], [decoded], refused);
    },
    () => {
      const body = new Uint8Array(gz);
      const at = rng.int(3);
      body[at] = (body[at] as number) ^ 0x40;
      return httpCase(cat, 'gzip bad magic or method', b, body, [ct, ce], ['invalid_body'], refused);
    },
    () => httpCase(cat, 'not gzip, labelled gzip', b, b.raw, [ct, ce], ['invalid_body'], refused),
    () => httpCase(cat, 'gzip of gzip', b, new Uint8Array(gzipSync(gz)), [ct, ce], ['invalid_body'], refused),
    () => httpCase(cat, 'zlib stream labelled gzip', b, new Uint8Array(deflateSync(b.raw)), [ct, ce], ['invalid_body'], refused),
    () => httpCase(cat, 'gzip of nothing', b, new Uint8Array(gzipSync(new Uint8Array(0))), [ct, ce], ['invalid_body'], refused),
    () => {
      const cut = rng.range(1, Math.max(1, b.raw.length - 1));
      const body = concat(gzipSync(b.raw.subarray(0, cut)), gzipSync(b.raw.subarray(cut)));
      // RFC 1952 allows several members; a decoder that reads only the first sees a truncated body.
      return httpCase(cat, `gzip two members split at ${cut}`, b, body, [ct, ce], union(ok, ['invalid_body']), evs);
    },
    () => httpCase(cat, 'gzip with trailing garbage', b, concat(gz, rng.bytes(rng.range(1, 32))), [ct, ce], union(ok, ['invalid_body']), evs),
    () => {
      const g = gzipWithHeaderFields(b.raw, rng);
      return httpCase(cat, `gzip header ${g.name}`, b, g.body, [ct, ce], g.valid ? union(ok, ['invalid_body']) : ['invalid_body'], g.valid ? evs : refused);
    },
    () => {
      const bomb = rng.pick(['zeros9', 'zeros64', 'jsonSpaces'] as const);
      return httpCase(cat, `gzip bomb ${bomb}`, b, gzipBombs()[bomb], [ct, ce], ['body_too_large'], refused);
    },
    () => {
      const value = rng.pick(['deflate', 'br', 'compress', 'zstd', 'gzip, gzip', 'identity, gzip', 'gzip;q=1', '*', 'gzip gzip', 'chunked']);
      return httpCase(cat, `content-encoding ${JSON.stringify(value)}`, b, b.raw, [ct, ['content-encoding', value]], ['unsupported_encoding'], refused);
    },
    () => {
      const value = rng.pick(['x-gzip', 'GZip', 'identity', 'IDENTITY', '']);
      const gzipped = /gzip/i.test(value);
      return httpCase(cat, `content-encoding ${JSON.stringify(value)}`, b, gzipped ? gz : b.raw, [ct, ['content-encoding', value]], union(ok, ['unsupported_encoding']), evs);
    },
  ];
  return rng.pick(makers)();
}

/** Bodies that do not depend on the case, made once. */
const constantBodies = {
  nulls1001Json: memo(() => writeJson(new Repeat(1001, null))),
  nils1001Msgpack: memo(() => writeMsgpack(new Repeat(1001, null))),
  nulls1000Json: memo(() => writeJson(new Repeat(MAX_EVENTS, null))),
  million0GzJson: memo(() => new Uint8Array(gzipSync(writeJson(new Repeat(1_000_000, 0)), { level: 1 }))),
  million0Msgpack: memo(() => writeMsgpack(new Repeat(1_000_000, 0))),
};

/** Limits at and past their edges: events per request, bytes as sent, bytes decoded; huge and deep values. */
export function extremesCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const cat = 'structure-extremes';
  const endpoint: EndpointName = rng.chance(0.7) ? 'agent' : 'ingest';
  const { ident, seed } = pickSender(rng, env, endpoint, caseIndex);
  const b = { endpoint, seed };
  const kind = kindsFor(endpoint)[0] as 'interaction' | 'gateway';
  const jsonCt: [string, string] = ['content-type', CONTENT_TYPES['json-batch']];
  const mpCt: [string, string] = ['content-type', CONTENT_TYPES.msgpack];
  const ce: [string, string] = ['content-encoding', 'gzip'];
  const gz = (u: Uint8Array): Uint8Array => new Uint8Array(gzipSync(u, { level: 1 }));
  const validEvents = (n: number): BuiltEvent[] => Array.from({ length: n }, (_, k) => validEvent(buildValidEvent(kind, ident, k)));
  const makers: [number, () => HttpCase][] = [
    [3, () => httpCase(cat, '1001 nulls (JSON)', b, constantBodies.nulls1001Json(), [jsonCt], ['too_many_events'], undefined)],
    [3, () => httpCase(cat, '1001 nils (MessagePack)', b, constantBodies.nils1001Msgpack(), [mpCt], ['too_many_events'], undefined)],
    [
      2,
      () => {
        const evs = validEvents(MAX_EVENTS + 1);
        return httpCase(cat, '1001 valid events', b, writeJson(evs.map((e) => e.value)), [jsonCt], ['too_many_events'], undefined, {});
      },
    ],
    [
      2,
      () => {
        const evs = validEvents(MAX_EVENTS);
        const mp = rng.chance(0.5);
        const body = mp ? writeMsgpack(evs.map((e) => e.value)) : writeJson(evs.map((e) => e.value));
        return httpCase(cat, `1000 valid events (${mp ? 'MessagePack' : 'JSON'})`, b, body, [mp ? mpCt : jsonCt], ['accepted'], evs.map((e) => e.expect));
      },
    ],
    [
      2,
      () => {
        const events: EventExpectation[] = Array.from({ length: MAX_EVENTS }, () => ({ verdict: 'reject', codes: ['invalid_event'], id: null, mutation: 'null' }));
        return httpCase(cat, '1000 nulls', b, constantBodies.nulls1000Json(), [jsonCt], ['no_valid_events'], events);
      },
    ],
    [2, () => httpCase(cat, '1M-element array, gzipped JSON', b, constantBodies.million0GzJson(), [jsonCt, ce], ['too_many_events'], undefined)],
    [2, () => httpCase(cat, '1M-element array, MessagePack', b, constantBodies.million0Msgpack(), [mpCt], ['too_many_events', 'invalid_body'], undefined)],
    [
      2,
      () => {
        const ve = buildValidEvent(kind, ident, 0);
        (ve.event.data as Record<string, HostileValue>).fuzz_extra = new Repeat(rng.pick([1_000_000, 500_000]), 0);
        const mp = rng.chance(0.5);
        const exp: EventExpectation = { verdict: 'either', codes: ['invalid_event'], id: ve.id, row: ve.row, mutation: 'extra:1M-array' };
        const body = mp ? writeMsgpack([ve.event]) : gz(writeJson([ve.event]));
        return httpCase(cat, `event with a huge array field (${mp ? 'MessagePack' : 'gzipped JSON'})`, b, body, mp ? [mpCt] : [jsonCt, ce], eventsOutcomes([exp]), [exp]);
      },
    ],
    [
      2,
      () => {
        const ve = buildValidEvent(kind, ident, 0);
        (ve.event.data as Record<string, HostileValue>).vendor_id = new LongString('v', 900_000);
        const exp: EventExpectation = { verdict: 'reject', codes: ['invalid_event'], field: 'vendor_id', id: ve.id, row: ve.row, mutation: 'vendor_id:900k' };
        const mp = rng.chance(0.5);
        return httpCase(cat, `900 KB vendor_id (${mp ? 'MessagePack' : 'JSON'})`, b, mp ? writeMsgpack([ve.event]) : writeJson([ve.event]), [mp ? mpCt : jsonCt], ['no_valid_events'], [exp]);
      },
    ],
    [
      1,
      () => {
        const ve = buildValidEvent(kind, ident, 0);
        const data = ve.event.data as Record<string, HostileValue>;
        data.fuzz_keys = obj(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i] as const));
        const exp: EventExpectation = { verdict: 'either', codes: ['invalid_event'], id: ve.id, row: ve.row, mutation: 'extra:50k-keys' };
        return httpCase(cat, 'event with 50k keys', b, writeJson([ve.event]), [jsonCt], eventsOutcomes([exp]), [exp]);
      },
    ],
    [
      2,
      () => {
        // Exactly the limit as sent (valid, padded with whitespace), then one byte over.
        const evs = validEvents(3);
        const json = writeJson(evs.map((e) => e.value));
        const over = rng.chance(0.5);
        const body = concat(json, new Uint8Array(MAX_BODY_BYTES - json.length + (over ? 1 : 0)).fill(0x20));
        return over
          ? httpCase(cat, '1 MiB + 1 as sent', b, body, [jsonCt], ['body_too_large'], allRejected(evs.map((e) => e.expect)), { mayClose: true })
          : httpCase(cat, 'exactly 1 MiB as sent', b, body, [jsonCt], ['accepted'], evs.map((e) => e.expect));
      },
    ],
    [
      1,
      () => {
        const evs = validEvents(2);
        const json = writeJson(evs.map((e) => e.value));
        const over = rng.chance(0.5);
        const body = gz(concat(json, new Uint8Array(MAX_DECODED_BYTES - json.length + (over ? 1 : 0)).fill(0x20)));
        return over
          ? httpCase(cat, '8 MiB + 1 decoded', b, body, [jsonCt, ce], ['body_too_large'], allRejected(evs.map((e) => e.expect)))
          : httpCase(cat, 'exactly 8 MiB decoded', b, body, [jsonCt, ce], ['accepted'], evs.map((e) => e.expect));
      },
    ],
    [
      1,
      () => {
        const evs = validEvents(1);
        const body = concat(writeJson(evs.map((e) => e.value)), new Uint8Array(2 * MiB).fill(0x20));
        return httpCase(cat, '3 MiB as sent', b, body, [jsonCt], ['body_too_large'], allRejected(evs.map((e) => e.expect)), { mayClose: true });
      },
    ],
    [
      2,
      () => {
        const ve = buildValidEvent(kind, ident, 0);
        (ve.event.data as Record<string, HostileValue>).latency_ms = 1;
        const digits = '9'.repeat(rng.pick([400, 100_000]));
        const text = Buffer.from(writeJson([ve.event])).toString('utf8').replace('"latency_ms":1', `"latency_ms":${digits}`);
        const exp: EventExpectation = { verdict: 'reject', codes: ['invalid_event'], field: 'latency_ms', id: ve.id, row: ve.row, mutation: `latency_ms:${digits.length}-digits` };
        return httpCase(cat, `${digits.length}-digit number`, b, new TextEncoder().encode(text), [jsonCt], ['no_valid_events'], [exp]);
      },
    ],
  ];
  return rng.weighted(makers)();
}

/** Valid bodies with random bytes flipped, inserted or removed, from the opaque agent or tenant. */
export function opaqueCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const b = eventsBody(rng, env, caseIndex, { opaque: true, pValid: 0.8 });
  const gzipped = rng.chance(0.2);
  let body: Uint8Array = new Uint8Array(gzipped ? gzipSync(b.raw) : b.raw);
  const edits = rng.range(1, 4);
  const names: string[] = [];
  for (let i = 0; i < edits && body.length > 0; i++) {
    const at = rng.int(body.length);
    const op = rng.pick(['flip', 'set', 'insert', 'delete'] as const);
    if (op === 'flip') body[at] = (body[at] as number) ^ (1 << rng.int(8));
    else if (op === 'set') body[at] = rng.pick([0x00, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0xff, 0xc1, 0xdd, 0xdf, 0xc7]);
    else if (op === 'insert') body = concat(body.subarray(0, at), rng.bytes(1), body.subarray(at));
    else body = concat(body.subarray(0, at), body.subarray(at + 1));
    names.push(`${op}@${at}`);
  }
  const headers: [string, string][] = [['content-type', CONTENT_TYPES[b.media]]];
  if (gzipped) headers.push(['content-encoding', 'gzip']);
  return httpCase('opaque-flips', `${b.media}${gzipped ? '+gzip' : ''} ${names.join(' ')}`, b, body, headers, 'any', undefined, { opaque: true });
}
