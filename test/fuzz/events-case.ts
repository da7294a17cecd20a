/**
 * Cases whose body decodes into events, most of them hostile (event-mutations.ts), sent
 * correctly signed or keyed in each of the four §2 body forms, sometimes gzipped: these
 * reach the validator, which is where the fuzzer should spend most of its time.
 */
import { gzipSync } from 'node:zlib';
import { buildValidEvent, kindsFor, type CaseIdentity, type EventKind } from './event-model.js';
import { headerTextMutants, mutateEvent, uniquePrefix, validEvent, type BuiltEvent } from './event-mutations.js';
import { eventsOutcomes, union } from './expectations.js';
import { GENERATE_KNOWN_BUG_TRIGGERS } from './known-bugs.js';
import type { Codec } from './field-mutants.js';
import type { Auth, EndpointName, EventErrorCode, EventExpectation, HttpCase, Outcome, RowKey } from './fuzz-case.js';
import type { HostileValue } from './hostile-value.js';
import { writeJson } from './json-writer.js';
import { writeMsgpack } from './msgpack-writer.js';
import type { Prng } from './prng.js';
import { pickSender, type RunEnv } from './run-env.js';

export type Media = 'json-batch' | 'json-single' | 'msgpack' | 'binary';

export const CONTENT_TYPES: Record<Exclude<Media, 'binary'>, string> = {
  'json-batch': 'application/cloudevents-batch+json',
  'json-single': 'application/cloudevents+json',
  msgpack: 'application/cloudevents-batch+msgpack',
};

export const PATHS: Record<EndpointName, string> = { agent: '/v1/agent', ingest: '/v1/ingest' };

export function authFor(endpoint: EndpointName, seed: string, opaque = false): Auth {
  return endpoint === 'agent' ? { mode: 'agent', seed } : { mode: 'key', key: opaque ? 'opaque' : 'primary' };
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** A valid or hostile event of a kind the endpoint takes. */
export function someEvent(rng: Prng, ident: CaseIdentity, codec: Codec, k: number, pValid: number): BuiltEvent {
  const kinds = kindsFor(ident.endpoint);
  const kind: EventKind = kinds.length === 1 ? (kinds[0] as EventKind) : rng.chance(0.7) ? 'interaction' : 'telemetry';
  const ve = buildValidEvent(kind, ident, k);
  return rng.chance(pValid) ? validEvent(ve) : mutateEvent(rng, ve, ident, codec, k);
}

/** Outcomes of a body made of `events`, with what their values do to the body as a whole. */
export function outcomesOf(events: readonly BuiltEvent[]): Outcome[] {
  const expectations = events.map((e) => e.expect);
  if (events.some((e) => e.body === 'invalid')) return ['invalid_body'];
  const base = eventsOutcomes(expectations);
  return events.some((e) => e.body === 'maybe-invalid') ? union(base, ['invalid_body']) : base;
}

/** outcomesOf, plus: one `cloudevents+json` body that is not an object may be invalid_body as a whole. */
export function bodyOutcomes(media: Media, events: readonly BuiltEvent[]): Outcome[] {
  const base = outcomesOf(events);
  const notObject = events.length === 1 && (events[0] as BuiltEvent).expect.mutation.startsWith('not-an-object');
  return media === 'json-single' && notObject ? union(base, ['invalid_body']) : base;
}

export interface Encoded {
  body: Uint8Array;
  headers: [string, string][];
}

export function maybeGzip(rng: Prng, enc: Encoded, p: number): Encoded & { gzip: boolean } {
  if (!rng.chance(p)) return { ...enc, gzip: false };
  const body = new Uint8Array(gzipSync(enc.body, { level: rng.range(1, 9) }));
  return { body, headers: [...enc.headers, ['content-encoding', rng.pick(['gzip', 'gzip', 'gzip', 'GZIP', ' gzip'])]], gzip: true };
}

function contentTypeVariant(rng: Prng, base: string): string {
  return rng.weighted([
    [8, base],
    [1, `${base}; charset=utf-8`],
    [1, `${base};charset="UTF-8"`],
  ]);
}

/** A structured-mode or MessagePack body of 1–8 events (one for cloudevents+json). */
export function structuredCase(rng: Prng, env: RunEnv, caseIndex: number, media: Exclude<Media, 'binary'>, category: string): HttpCase {
  const endpoint: EndpointName = rng.chance(0.7) ? 'agent' : 'ingest';
  const { ident, seed } = pickSender(rng, env, endpoint, caseIndex);
  const codec: Codec = media === 'msgpack' ? 'msgpack' : 'json';
  const n = media === 'json-single' ? 1 : rng.weighted([
    [4, 1],
    [4, 2],
    [3, 3],
    [2, 5],
    [1, 8],
  ]);
  const pValid = rng.pick([0, 0.2, 0.4, 0.6]);
  const events = Array.from({ length: n }, (_, k) => someEvent(rng, ident, codec, k, pValid));
  const outcomes = bodyOutcomes(media, events);
  const value: HostileValue = media === 'json-single' ? (events[0] as BuiltEvent).value : events.map((e) => e.value);
  const raw = media === 'msgpack' ? writeMsgpack(value) : writeJson(value);
  const enc = maybeGzip(rng, { body: raw, headers: [['content-type', contentTypeVariant(rng, CONTENT_TYPES[media])]] }, 0.15);
  const expectations = events.map((e) => e.expect);
  return {
    kind: 'http',
    category,
    name: `${media}${enc.gzip ? '+gzip' : ''} ${endpoint}: ${expectations.map((e) => e.mutation).join(', ')}`,
    method: 'POST',
    path: PATHS[endpoint],
    endpoint,
    headers: enc.headers,
    body: b64(enc.body),
    auth: authFor(endpoint, seed),
    expect: { outcomes, events: expectations },
  };
}

const CE_ATTRS = ['specversion', 'id', 'source', 'type', 'time'] as const;

/**
 * CloudEvents binary mode: attributes in ce-* headers (some hostile), the data object as the
 * JSON body (sometimes hostile, sometimes not an object at all).
 */
export function binaryCase(rng: Prng, env: RunEnv, caseIndex: number, category: string): HttpCase {
  const endpoint: EndpointName = rng.chance(0.7) ? 'agent' : 'ingest';
  const { ident, seed } = pickSender(rng, env, endpoint, caseIndex);
  const kinds = kindsFor(endpoint);
  const kind = rng.pick(kinds);
  const ve = buildValidEvent(kind, ident, 0);
  const attrs: Record<(typeof CE_ATTRS)[number], string | null> = {
    specversion: '1.0',
    id: ve.id,
    source: ve.event.source as string,
    type: ve.event.type as string,
    time: ve.event.time as string,
  };
  let built: BuiltEvent;
  let outcomes: Outcome[];
  let extraHeaders: [string, string][] = [];
  let bodyValue: HostileValue;
  const style = rng.weighted([
    [5, 'data'],
    [4, 'header'],
    [1, 'not-object'],
  ] as const);
  if (style === 'data') {
    // Only data-level changes: the envelope travels in the headers.
    const classes = endpoint === 'agent' ? (['field', 'field', 'field', 'prototype', 'agent'] as const) : (['field', 'field', 'field', 'prototype'] as const);
    built = rng.chance(0.2) ? validEvent(ve) : mutateEvent(rng, ve, ident, 'json', 0, rng.pick(classes));
    bodyValue = ve.event.data as HostileValue;
    outcomes = outcomesOf([built]);
  } else if (style === 'not-object') {
    bodyValue = rng.pick<HostileValue>([[ve.event.data as HostileValue], 'data', 42, null, true, []]);
    built = { value: null, expect: { verdict: 'reject', codes: ['invalid_event'], field: 'data', id: ve.id, row: ve.row, mutation: 'binary-data-not-object' } };
    outcomes = ['no_valid_events', 'invalid_body'];
  } else {
    bodyValue = ve.event.data as HostileValue;
    const r = headerMutation(rng, ve.id, ident, attrs);
    extraHeaders = r.extraHeaders;
    // A refused event is registered under its original key: nothing may be stored there.
    const row = r.expect.verdict === 'reject' || r.row === undefined ? ve.row : r.row;
    built = { value: null, expect: { ...r.expect, ...(row === null ? {} : { row }) } };
    outcomes = r.outcomes ?? outcomesOf([built]);
  }
  const headers: [string, string][] = [['content-type', contentTypeVariant(rng, 'application/json')]];
  for (const a of CE_ATTRS) {
    const v = attrs[a];
    if (v !== null) headers.push([`ce-${a}`, v]);
  }
  headers.push(...extraHeaders);
  const enc = maybeGzip(rng, { body: writeJson(bodyValue), headers }, 0.1);
  return {
    kind: 'http',
    category,
    name: `binary${enc.gzip ? '+gzip' : ''} ${endpoint}: ${built.expect.mutation}`,
    method: 'POST',
    path: PATHS[endpoint],
    endpoint,
    headers: enc.headers,
    body: b64(enc.body),
    auth: authFor(endpoint, seed),
    expect: { outcomes, events: [built.expect] },
  };
}

interface HeaderMutation {
  expect: EventExpectation;
  /** The row after the change (gateway id/source), null when none can be valid, undefined: unchanged. */
  row?: ReturnType<typeof buildValidEvent>['row'] | null;
  outcomes?: Outcome[];
  extraHeaders: [string, string][];
}

/** One hostile ce-* header; changes `attrs` in place. */
function headerMutation(rng: Prng, id: string, ident: CaseIdentity, attrs: Record<(typeof CE_ATTRS)[number], string | null>): HeaderMutation {
  const attr = rng.pick(CE_ATTRS);
  const gateway = ident.endpoint === 'ingest';
  const reject = (name: string, value: string | null, codes: EventErrorCode[] = ['invalid_event']): HeaderMutation => {
    attrs[attr] = value;
    return { expect: { verdict: 'reject', codes, field: attr, id: attr === 'id' ? (value ?? null) : id, anyId: attr === 'id', mutation: `ce-${attr}:${name}` }, extraHeaders: [] };
  };
  const missing = (name: string, value: string | null): HeaderMutation => {
    attrs[attr] = value;
    // Without its four required ce-* headers, application/json is not an accepted body form.
    return {
      expect: { verdict: 'reject', codes: ['invalid_event'], id, anyId: true, mutation: `ce-${attr}:${name}` },
      outcomes: ['unsupported_media_type', 'invalid_body', 'no_valid_events'],
      extraHeaders: [],
    };
  };
  const accept = (name: string, value: string, verdict: 'accept' | 'either' = 'accept'): HeaderMutation => {
    attrs[attr] = value;
    let row: HeaderMutation['row'];
    let altRows: RowKey[] | undefined;
    const keyOf = (v: string): string => (attr === 'id' ? `${attrs.source as string}|${v}` : `${v}|${attrs.id as string}`);
    if (gateway && (attr === 'id' || attr === 'source')) {
      if (/[^\u0000-\u007f]/.test(value)) {
        // A header has no charset: the bytes (UTF-8 here) may be read as UTF-8 or as Latin-1.
        row = null;
        altRows = [value, Buffer.from(value, 'utf8').toString('latin1')].map((v) => ({ table: 'gateway_telemetry' as const, key: keyOf(v) }));
      } else row = verdict === 'accept' ? { table: 'gateway_telemetry', key: keyOf(value) } : null;
    }
    return {
      expect: {
        verdict,
        codes: ['invalid_event', 'unknown_type'],
        id: attr === 'id' ? value : id,
        anyId: attr === 'id',
        mutation: `ce-${attr}:${name}`,
        ...(altRows === undefined ? {} : { altRows }),
      },
      ...(row === undefined ? {} : { row }),
      extraHeaders: [],
    };
  };
  const unique = uniquePrefix(ident);
  switch (attr) {
    case 'specversion':
      return rng.pick([
        () => reject('0.3', '0.3'),
        () => reject('1', '1'),
        () => reject('1.0.0', '1.0.0'),
        () => missing('absent', null),
        () => missing('empty', ''),
      ])();
    case 'id':
      return rng.pick([
        () => accept('128', `${id}.`.padEnd(128, 'i')),
        () => reject('129', `${id}.`.padEnd(129, 'i')),
        () => missing('absent', null),
        () => missing('empty', ''),
        () => accept('latin1-inside', `${id}-é-${unique}`, 'either'),
        // A trailing byte ≥ 0x80 is KNOWN_BUGS.headerValueTrailingBytes.
        ...(GENERATE_KNOWN_BUG_TRIGGERS ? [() => accept('latin1-last', `${id}-é`, 'either')] : []),
        () => {
          const m = accept('duplicate-header', attrs.id as string, 'either');
          m.extraHeaders = [['ce-id', `${id}-second`]];
          if (gateway) {
            delete m.row; // the first copy's key: the event's own
            m.expect.altRows = [{ table: 'gateway_telemetry', key: `${attrs.source as string}|${id}-second` }];
          }
          return m;
        },
        ...headerTextMutants(unique)
          .filter((m) => GENERATE_KNOWN_BUG_TRIGGERS || !/[^\u0000-\u007f]$/.test(m.value as string))
          .map((m) => () => {
          const value = m.value as string;
          if (m.verdict === 'reject') return reject(m.name, value);
          // HTTP trims a field value's leading and trailing whitespace: that id is not the one sent.
          const trimmed = /^[ \t]|[ \t]$/.test(value);
          const res = accept(m.name, value, trimmed || /[^\u0000-\u007f]/.test(value) ? 'either' : m.verdict);
          if (trimmed && gateway) res.row = null;
          return res;
        }),
      ])();
    case 'source':
      return rng.pick([
        () => accept('256', `https://gw.fuzz.test/${unique}/`.padEnd(256, 's')),
        () => reject('257', `https://gw.fuzz.test/${unique}/`.padEnd(257, 's')),
        () => reject('space', `https://gw.fuzz.test/${unique}/a b`),
        () => reject('bad-percent', `/x/%zz/${unique}`),
        () => missing('absent', null),
        () => missing('empty', ''),
      ])();
    case 'type':
      return rng.pick([
        () => reject('other', 'com.example.other', ['unknown_type']),
        () => reject('other-endpoint', gateway ? 'com.machpay.agent.interaction.v1' : 'com.machpay.gateway.request.v1', ['unknown_type']),
        () => reject('upper-case', (attrs.type as string).toUpperCase(), ['unknown_type']),
        () => missing('absent', null),
        () => missing('empty', ''),
      ])();
    case 'time':
      return rng.pick([
        () => reject('absent', null),
        () => reject('not-a-time', 'yesterday'),
        () => reject('feb-30', '2026-02-30T00:00:00Z'),
        () => reject('no-offset', '2026-01-01T00:00:00'),
        () => accept('offset', '2026-01-01T00:00:00.5-08:00'),
        () => accept('nanoseconds', '2026-01-01T00:00:00.123456789Z'),
      ])();
  }
}
