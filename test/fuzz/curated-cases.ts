/**
 * The hand-written part of the corpus: about a hundred nasty requests, one idea each,
 * written out so that a reader sees what is sent and what §6 requires. They are turned
 * into files by write-curated-corpus.ts (the files, not this module, are what runs replay).
 *
 * Agents and keys are fixed (seeded by 'curated'), ids and nonces come from case indices
 * far from any generated run's, so a replay stores rows that nothing else touches.
 */
import { gzipSync } from 'node:zlib';
import { agentFromSeed } from './agent-book.js';
import { MAX_BODY_BYTES, MAX_DECODED_BYTES, gzipBombs } from './body-cases.js';
import { buildValidEvent, type CaseIdentity, type EventKind, type ValidEvent } from './event-model.js';
import { validEvent } from './event-mutations.js';
import { allRejected, eventsOutcomes } from './expectations.js';
import { CONTENT_TYPES, PATHS, b64 } from './events-case.js';
import { DELETE, type MutantValue } from './field-mutants.js';
import type { Auth, AuthTweak, EndpointName, EventErrorCode, EventExpectation, HttpCase, Outcome, RawCase, RawPart } from './fuzz-case.js';
import { Bin, Deep, Entries, Ext, IntLiteral, JsonText, LengthClaim, MpFloat, RawString, Repeat, isHostileObject, obj, type HostileValue } from './hostile-value.js';
import { writeJson } from './json-writer.js';
import { writeMsgpack } from './msgpack-writer.js';
import { agentSeed } from './run-env.js';

export interface CuratedCase {
  name: string;
  note: string;
  case: HttpCase | RawCase;
}

/** Far from a run's indices (keys differ anyway: the agents and the run tag are the corpus's own); period ends reuse the spans of small indices (event-model.ts), below 2^32. */
const CURATED_INDEX_BASE = 1_000_000;
const GATEWAY_DATA = { gateway_id: 'gw-cur', vendor_id: 'v', route: '/r', method: 'GET', status_code: 200, latency_ms: 1 };
const SEED = agentSeed(0, 'curated', 0);
const EDGE_SEED = agentSeed(0, 'curated-edge', 0);
const OTHER_SEED = agentSeed(0, 'curated', 1);

type Media = 'json-batch' | 'json-single' | 'msgpack';

function ident(index: number, endpoint: EndpointName, role: 'pool' | 'edge' = 'pool'): CaseIdentity {
  return {
    endpoint,
    agentId: endpoint === 'agent' ? agentFromSeed(role === 'edge' ? EDGE_SEED : SEED).agentId : '',
    otherAgentId: agentFromSeed(OTHER_SEED).agentId,
    role,
    caseIndex: CURATED_INDEX_BASE + index,
    runTag: 'cur',
  };
}

function setIn(ve: ValidEvent, path: readonly string[], value: MutantValue): void {
  let node: HostileValue = ve.event;
  for (const p of path.slice(0, -1)) node = isHostileObject(node) ? (node[p] as HostileValue) : null;
  if (!isHostileObject(node)) throw new Error(`no object at ${path.join('.')}`);
  const last = path[path.length - 1] as string;
  if (value === DELETE) delete node[last];
  else node[last] = value;
}

interface EventSpec {
  kind?: EventKind;
  /** Changes by path (['data','nonce'] …); DELETE removes. */
  set?: [string[], MutantValue][];
  verdict?: EventExpectation['verdict'];
  codes?: EventErrorCode[];
  field?: string;
  /** The stored key changes to this nonce (edge agent only) / no row can be valid. */
  nonce?: string;
  noRow?: boolean;
  columns?: Record<string, string | null>;
  /** Replace the whole event by this value. */
  value?: HostileValue;
  /** A gateway event's new id (its key changes with it). */
  id?: string;
  /** data gets this key a second time, with this value (an entry list, as JSON allows). */
  duplicate?: [string, HostileValue];
}

interface Built {
  value: HostileValue;
  expect: EventExpectation;
}

function buildEvents(id: CaseIdentity, specs: EventSpec[]): Built[] {
  return specs.map((s, k) => {
    const kind = s.kind ?? (id.endpoint === 'agent' ? 'interaction' : 'gateway');
    const ve = buildValidEvent(kind, id, k);
    for (const [path, value] of s.set ?? []) setIn(ve, path, value);
    const base = validEvent(ve).expect;
    let row = s.noRow === true ? undefined : { ...ve.row };
    if (row !== undefined && s.nonce !== undefined) row = { ...row, key: `${id.agentId}|${s.nonce}` };
    if (row !== undefined && s.id !== undefined) row = { ...row, key: `${ve.event.source as string}|${s.id}` };
    let value: HostileValue = 'value' in s ? (s.value as HostileValue) : ve.event;
    if (s.duplicate !== undefined) {
      const d = ve.event.data as Record<string, HostileValue>;
      const entries = new Entries([...Object.keys(d).map((k2) => [k2, d[k2] as HostileValue] as const), s.duplicate]);
      value = new Entries(Object.keys(ve.event).map((k2) => [k2, k2 === 'data' ? entries : (ve.event[k2] as HostileValue)] as const));
    }
    if (row !== undefined && s.columns !== undefined) row = { ...row, columns: s.columns };
    const verdict = s.verdict ?? 'accept';
    const expect: EventExpectation = {
      ...base,
      verdict,
      codes: verdict === 'accept' ? [] : (s.codes ?? ['invalid_event']),
      ...(s.field === undefined ? {} : { field: s.field }),
      mutation: 'curated',
      ...(row === undefined ? {} : { row }),
      ...('value' in s ? { id: null } : {}),
      ...(s.id === undefined ? {} : { id: s.id }),
    };
    if (row === undefined) delete expect.row;
    return { value, expect };
  });
}

interface CaseOptions {
  endpoint?: EndpointName;
  media?: Media;
  role?: 'pool' | 'edge';
  events?: EventSpec[];
  /** Outcomes, if not those of the events. */
  outcomes?: Outcome[];
  /** Events count (only) if the request may get through. */
  refused?: boolean;
  headers?: [string, string][];
  /** Replaces the encoded body. */
  body?: (encoded: Uint8Array) => Uint8Array;
  gzip?: boolean;
  auth?: Auth;
  tweak?: AuthTweak;
  path?: string;
  mayClose?: boolean;
  noEvents?: boolean;
  /** Event expectations given as they are (binary mode). */
  expectEvents?: EventExpectation[];
}

let counter = 0;
const all: CuratedCase[] = [];

function http(name: string, note: string, o: CaseOptions = {}): void {
  const index = counter++;
  const endpoint = o.endpoint ?? 'agent';
  const id = ident(index, endpoint, o.role);
  const media = o.media ?? 'json-batch';
  const built = buildEvents(id, o.events ?? [{}]);
  const value = media === 'json-single' ? (built[0] as Built).value : built.map((b) => b.value);
  let body = media === 'msgpack' ? writeMsgpack(value) : writeJson(value);
  if (o.body !== undefined) body = o.body(body);
  const headers: [string, string][] = o.headers ?? [['content-type', CONTENT_TYPES[media]]];
  if (o.gzip === true) {
    body = new Uint8Array(gzipSync(body));
    headers.push(['content-encoding', 'gzip']);
  }
  const exps = built.map((b) => b.expect);
  const outcomes = o.outcomes ?? eventsOutcomes(exps);
  const auth: Auth = o.auth ?? (endpoint === 'agent' ? { mode: 'agent', seed: o.role === 'edge' ? EDGE_SEED : SEED, ...(o.tweak === undefined ? {} : { tweak: o.tweak }) } : { mode: 'key', key: 'primary' });
  all.push({
    name,
    note,
    case: {
      kind: 'http',
      category: 'curated',
      name,
      method: 'POST',
      path: o.path ?? PATHS[endpoint],
      endpoint,
      headers,
      body: b64(body),
      auth,
      expect: {
        outcomes,
        ...(o.expectEvents !== undefined ? { events: o.expectEvents } : o.noEvents === true ? {} : { events: o.refused === true ? allRejected(exps) : exps }),
        ...(o.mayClose === true ? { mayClose: true } : {}),
      },
    },
  });
}

function raw(name: string, note: string, writes: RawPart[][], responses: number, extra: Partial<Pick<RawCase, 'pauseMs' | 'halfClose' | 'timeoutMs'>> = {}): void {
  counter++;
  all.push({ name, note, case: { kind: 'raw', category: 'curated-raw', name, writes, responses, timeoutMs: extra.timeoutMs ?? 5000, ...extra } });
}

function signedPart(index: number, extra: { extraHeaders?: [string, string][]; contentLength?: string } = {}): RawPart {
  const id = ident(index, 'agent');
  const ve = buildValidEvent('interaction', id, 0);
  return { signed: { seed: SEED, body: b64(writeJson([ve.event])), contentType: CONTENT_TYPES['json-batch'], rows: [ve.row], ...extra } };
}

const bytes = (s: string): RawPart => ({ bytes: Buffer.from(s, 'latin1').toString('base64') });
const reject = (field: string, set: [string[], MutantValue][], codes: EventErrorCode[] = ['invalid_event']): EventSpec => ({ set, verdict: 'reject', field, codes });
const nonce = (v: MutantValue): [string[], MutantValue] => [['data', 'nonce'], v];
const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

function build(): CuratedCase[] {
  // --- valid baselines: every form of §2 must be accepted ---------------------------------
  http('valid-json-batch', 'interaction and telemetry in one JSON batch', { events: [{}, { kind: 'telemetry' }] });
  http('valid-msgpack', 'the same as MessagePack', { media: 'msgpack', events: [{}, { kind: 'telemetry' }] });
  http('valid-json-single', 'one structured event', { media: 'json-single' });
  http('valid-gzip', 'gzip, signature over the gzip bytes', { gzip: true, events: [{}, {}] });
  http('valid-ingest', 'gateway event with an API key', { endpoint: 'ingest', events: [{}, {}] });

  // --- int64 (§2: exact, numbers or decimal strings) ------------------------------------------
  http('nonce-int64-max-literal', 'nonce 2^63-1 as a JSON number: stored exactly', { role: 'edge', events: [{ set: [nonce(new IntLiteral(I64_MAX))], nonce: I64_MAX.toString() }] });
  http('nonce-int64-min-string', 'nonce -2^63 as a decimal string', { role: 'edge', events: [{ set: [nonce(I64_MIN.toString())], nonce: I64_MIN.toString() }] });
  http('nonce-2^63', 'one past int64: refused, never wrapped or clamped', { events: [reject('nonce', [nonce(new IntLiteral(2n ** 63n))])] });
  http('nonce-2^64', '2^64: refused', { events: [reject('nonce', [nonce(new IntLiteral(2n ** 64n))])] });
  http('nonce-1e309', 'overflows a double to Infinity', { events: [reject('nonce', [nonce(new JsonText('1e309'))])] });
  http('nonce-hex-string', '"0x10" is not a decimal string', { events: [reject('nonce', [nonce('0x10')])] });
  http('nonce-space-string', '" 1" is not a decimal string', { events: [reject('nonce', [nonce(' 1')])] });
  http('nonce-fraction', '1.5 is not an integer', { events: [reject('nonce', [nonce(new JsonText('1.5'))])] });
  http('nonce-minus-zero', '-0: §2 is silent; if stored, as 0', { role: 'edge', events: [{ set: [nonce(new JsonText('-0'))], verdict: 'either', nonce: '0' }] });
  http('msgpack-nonce-uint64-2^63', 'MessagePack uint 64 above int64 max', { media: 'msgpack', events: [reject('nonce', [nonce(new IntLiteral(2n ** 63n, 'u64'))])] });
  http('msgpack-nonce-int64-min', 'MessagePack int 64 minimum: stored exactly', { media: 'msgpack', role: 'edge', events: [{ set: [nonce(new IntLiteral(I64_MIN, 'i64'))], nonce: I64_MIN.toString() }] });
  http('msgpack-latency-NaN', 'float 32 NaN for an INT field', { media: 'msgpack', events: [reject('latency_ms', [[['data', 'latency_ms'], new MpFloat(NaN, 32)]])] });
  http('msgpack-risk-infinity', 'float 64 Infinity for risk_score', { endpoint: 'ingest', media: 'msgpack', events: [reject('risk_score', [[['data', 'risk_score'], new MpFloat(Infinity)]])] });
  http('amount-negative', 'amount_atomic must be ≥ 0', { events: [reject('amount_atomic', [[['data', 'amount_atomic'], -1]])] });
  http('latency-int32-overflow', 'latency_ms 2^31 does not fit INT', { events: [reject('latency_ms', [[['data', 'latency_ms'], 2147483648]])] });
  http('status-code-bounds', 'status_code 600 (100–599)', { endpoint: 'ingest', events: [reject('status_code', [[['data', 'status_code'], 600]]), { set: [[['data', 'status_code'], 599]] }] });
  http('latency-string', 'latency_ms "42": only int64 fields may be strings', { events: [reject('latency_ms', [[['data', 'latency_ms'], '42']])] });
  http('success-string', 'success "true" is not a boolean', { events: [reject('success', [[['data', 'success'], 'true']])] });

  // --- strings: VARCHAR limits count characters; what PostgreSQL cannot store -----------------
  const v64 = 'v'.repeat(64);
  http('vendor-64-ascii', 'exactly the VARCHAR(64) limit', { events: [{ set: [[['data', 'vendor_id'], v64]], columns: { vendor_id: v64 } }] });
  http('vendor-65-ascii', 'one over the limit', { events: [reject('vendor_id', [[['data', 'vendor_id'], 'v'.repeat(65)]])] });
  http('vendor-64-emoji', '64 emoji are 64 characters (128 UTF-16 units)', { events: [{ set: [[['data', 'vendor_id'], '😀'.repeat(64)]], columns: { vendor_id: '😀'.repeat(64) } }] });
  http('vendor-65-emoji', '65 emoji', { events: [reject('vendor_id', [[['data', 'vendor_id'], '😀'.repeat(65)]])] });
  http('vendor-rtl-combining', 'RTL override, combining marks, U+2028', { events: [{ set: [[['data', 'vendor_id'], '\u202eשלום e\u0301\u2028x']], columns: { vendor_id: '\u202eשלום e\u0301\u2028x' } }] });
  http('vendor-copy-escapes', 'backslash-N, tab, newline: COPY text escapes', { events: [{ set: [[['data', 'vendor_id'], '\\N\t\\.\r\n\\']], columns: { vendor_id: '\\N\t\\.\r\n\\' } }] });
  http('vendor-nul', 'NUL: PostgreSQL cannot store it; refused or stored, never a 5xx', { events: [{ set: [[['data', 'vendor_id'], 'a\u0000b']], verdict: 'either' }] });
  http('vendor-lone-surrogate', 'a lone surrogate as a JSON escape', { events: [{ set: [[['data', 'vendor_id'], 'a\ud800b']], verdict: 'either' }] });
  http('vendor-invalid-utf8-json', 'a 0xFF byte inside a JSON string: not UTF-8, so not JSON', { events: [{ set: [[['data', 'vendor_id'], new RawString(Uint8Array.of(0x61, 0xff))]] }], outcomes: ['invalid_body'], refused: true });
  http('vendor-overlong-utf8-json', 'overlong "/" (C0 AF) inside a JSON string', { events: [{ set: [[['data', 'vendor_id'], new RawString(Uint8Array.of(0xc0, 0xaf))]] }], outcomes: ['invalid_body'], refused: true });
  http('error-message-4097', 'error_message is TEXT in the DDL: §5 sets no length (the receiver caps it at 4096)', { events: [{ set: [[['data', 'error_message'], 'e'.repeat(4097)]], verdict: 'either' }] });
  http('id-128', 'the longest valid id', { endpoint: 'ingest', events: [{ set: [[['id'], 'i'.repeat(120) + '-cur-128']], id: 'i'.repeat(120) + '-cur-128' }] });
  http('id-129', 'one over', { endpoint: 'ingest', events: [reject('id', [[['id'], 'i'.repeat(129)]])] });
  http('source-space', 'a URI-reference has no spaces', { endpoint: 'ingest', events: [reject('source', [[['source'], 'https://gw.example/a b']])] });
  http('huge-string-900k', 'a 900 KB vendor_id', { events: [reject('vendor_id', [[['data', 'vendor_id'], 'v'.repeat(900_000)]])] });

  // --- prototype pollution and special keys --------------------------------------------------
  const protoKey: string = '__proto__';
  http('proto-smuggles-vendor', 'vendor_id only under data.__proto__', { events: [reject('vendor_id', [[['data', 'vendor_id'], DELETE], [['data', protoKey], obj([['vendor_id', 'smuggled']])]])] });
  http('constructor-prototype-smuggles-route', 'route only under data.constructor.prototype', {
    endpoint: 'ingest',
    events: [reject('route', [[['data', 'route'], DELETE], [['data', 'constructor'], obj([['prototype', obj([['route', '/smuggled']])]])]])],
  });
  http('proto-at-event-level', 'an event-level __proto__ that names another type', { events: [{ set: [[[protoKey], obj([['type', 'com.example.polluted'], ['specversion', '0.3']])]], verdict: 'either' }] });
  http('proto-vendor-in-telemetry', '"__proto__" as a vendor id in interactions', {
    events: [{ kind: 'telemetry', set: [[['data', 'interactions'], obj([[protoKey, obj([['attempts', 1], ['success', 1]])]])]], verdict: 'either' }],
  });
  http('msgpack-proto-key', 'a MessagePack map key "__proto__" carrying agent_id', {
    media: 'msgpack',
    events: [reject('agent_id', [[['data', 'agent_id'], DELETE], [['data', protoKey], obj([['agent_id', agentFromSeed(SEED).agentId]])]])],
  });
  http('object-builtin-keys', 'hasOwnProperty, toString, valueOf as data fields', {
    events: [{ set: [[['data', 'hasOwnProperty'], 1], [['data', 'toString'], 'x'], [['data', 'valueOf'], null]], verdict: 'either' }],
  });
  http('data-is-proto-only', 'data is {"__proto__": {…every field…}}', { events: [reject('data', [[['data'], obj([[protoKey, obj([['vendor_id', 'v'], ['nonce', 1], ['success', true], ['latency_ms', 1]])]])]])] });
  http('duplicate-key-nonce', 'nonce twice, then "0x10": which one wins is the parser’s choice', { events: [{ duplicate: ['nonce', '0x10'], verdict: 'either' }] });

  // --- types and shapes ------------------------------------------------------------------------
  http('event-not-object', 'numbers, strings, null, arrays in the batch', { events: [{ value: 42, verdict: 'reject', noRow: true }, { value: 'x', verdict: 'reject', noRow: true }, { value: null, verdict: 'reject', noRow: true }, { value: [], verdict: 'reject', noRow: true }, {}] });
  http('type-other', 'a type no endpoint takes', { events: [{ set: [[['type'], 'com.example.other']], verdict: 'reject', codes: ['unknown_type'] }] });
  http('type-gateway-on-agent', 'a gateway event on /v1/agent', { events: [{ set: [[['type'], 'com.machpay.gateway.request.v1']], verdict: 'reject', codes: ['unknown_type'] }] });
  http('type-agent-on-ingest', 'an agent event on /v1/ingest', { endpoint: 'ingest', events: [{ set: [[['type'], 'com.machpay.agent.interaction.v1']], verdict: 'reject', codes: ['unknown_type'] }] });
  http('agent-mismatch', 'data.agent_id of another agent', { events: [{ set: [[['data', 'agent_id'], agentFromSeed(OTHER_SEED).agentId]], verdict: 'reject', codes: ['agent_mismatch'] }, {}] });
  http('specversion-0.3', 'CloudEvents 0.3', { events: [reject('specversion', [[['specversion'], '0.3']])] });
  http('time-feb-30', 'no such date', { events: [reject('time', [[['time'], '2026-02-30T00:00:00Z']])] });
  http('time-no-offset', 'RFC 3339 needs an offset', { events: [reject('time', [[['time'], '2026-01-01T00:00:00']])] });
  http('time-missing', 'time is required here', { events: [reject('time', [[['time'], DELETE]])] });
  http('msgpack-time-timestamp-ext', 'a MessagePack timestamp extension for time', { media: 'msgpack', events: [{ set: [[['time'], new Ext(-1, Uint8Array.of(0x65, 0x9d, 0x0a, 0x00))]], verdict: 'reject' }], outcomes: ['no_valid_events', 'invalid_body'] });
  http('msgpack-bin-vendor', 'MessagePack bin for a string field', { media: 'msgpack', events: [reject('vendor_id', [[['data', 'vendor_id'], new Bin(Uint8Array.of(0x76))]])], outcomes: ['no_valid_events', 'invalid_body'] });
  http('msgpack-ext-vendor', 'a MessagePack extension value for a string field', { media: 'msgpack', events: [reject('vendor_id', [[['data', 'vendor_id'], new Ext(1, Uint8Array.of(1))]])], outcomes: ['no_valid_events', 'invalid_body'] });

  // --- structure: depth and size -------------------------------------------------------------
  http('deep-10k-json', '10 000 nested arrays as the only event', { events: [{ value: new Deep(10_000, 'array'), verdict: 'reject', noRow: true }], outcomes: ['no_valid_events', 'invalid_body'] });
  http('deep-100k-json-field', '100 000 nested maps in an unread field', { events: [{ set: [[['data', 'fuzz_extra'], new Deep(100_000, 'map')]], verdict: 'either' }], outcomes: ['accepted', 'no_valid_events', 'invalid_body'] });
  http('deep-33-msgpack', '33 nested MessagePack arrays in a field', { media: 'msgpack', events: [{ set: [[['data', 'fuzz_extra'], new Deep(33, 'array')]], verdict: 'either' }], outcomes: ['accepted', 'no_valid_events', 'invalid_body'] });
  http('deep-10k-msgpack', '10 000 nested MessagePack arrays', { media: 'msgpack', events: [{ value: new Deep(10_000, 'array'), verdict: 'reject', noRow: true }], outcomes: ['no_valid_events', 'invalid_body'] });
  http('1001-nulls', 'one over the event limit', { body: () => writeJson(new Repeat(1001, null)), outcomes: ['too_many_events'], noEvents: true });
  http('msgpack-array32-claim', 'array 32 header claiming 4 294 967 295 events, no bytes', { media: 'msgpack', body: () => writeMsgpack(new LengthClaim('array', 0xffffffff)), outcomes: ['invalid_body', 'too_many_events'], noEvents: true });
  http('msgpack-map32-claim', 'a map claiming 2^32-1 pairs inside an event', { media: 'msgpack', body: () => writeMsgpack([new LengthClaim('map', 0xffffffff)]), outcomes: ['invalid_body'], noEvents: true });
  http('msgpack-str32-claim', 'a str claiming 4 GB', { media: 'msgpack', body: () => writeMsgpack([obj([['id', new LengthClaim('str', 0xfffffff0, 4)]])]), outcomes: ['invalid_body'], noEvents: true });
  http('json-1M-array-gzip', 'a gzipped JSON array of 1 000 000 zeros', { gzip: true, body: () => writeJson(new Repeat(1_000_000, 0)), outcomes: ['too_many_events'], noEvents: true });
  http('msgpack-1M-array', '1 000 000 fixints: 1 MB, under the limit as sent', { media: 'msgpack', body: () => writeMsgpack(new Repeat(1_000_000, 0)), outcomes: ['too_many_events', 'invalid_body'], noEvents: true });
  http('msgpack-non-string-keys', 'map keys that are ints, bools and nil', { media: 'msgpack', events: [{ value: new Entries([[1, 'x'], [true, 'y'], [null, 'z']]), verdict: 'reject', noRow: true }], outcomes: ['no_valid_events', 'invalid_body'] });

  // --- bodies that are not what they claim ------------------------------------------------------
  for (const media of ['json-batch', 'json-single', 'msgpack'] as const) {
    http(`empty-body-${media}`, 'zero bytes', { media, body: () => new Uint8Array(0), outcomes: ['invalid_body'], refused: true });
  }
  http('truncated-json', 'the batch cut in the middle', { events: [{}, {}], body: (b) => b.subarray(0, Math.floor(b.length / 2)), outcomes: ['invalid_body'], refused: true });
  http('truncated-msgpack', 'the MessagePack batch cut in the middle', { media: 'msgpack', events: [{}, {}], body: (b) => b.subarray(0, Math.floor(b.length / 2)), outcomes: ['invalid_body'], refused: true });
  http('trailing-garbage-json', 'bytes after the JSON array', { body: (b) => Buffer.concat([b, Buffer.from('xyz')]), outcomes: ['invalid_body'], refused: true });
  http('trailing-garbage-msgpack', 'bytes after the MessagePack array', { media: 'msgpack', body: (b) => Buffer.concat([b, Buffer.from([0xc0])]), outcomes: ['invalid_body'], refused: true });
  http('json-object-as-batch', 'one object sent as cloudevents-batch+json', { headers: [['content-type', CONTENT_TYPES['json-batch']]], media: 'json-single', outcomes: ['invalid_body', 'no_valid_events'], refused: true });
  http('json-array-as-single', 'a batch sent as cloudevents+json', { headers: [['content-type', CONTENT_TYPES['json-single']]], outcomes: ['invalid_body', 'no_valid_events'], refused: true });
  http('json-as-msgpack', 'a JSON body labelled MessagePack', { headers: [['content-type', CONTENT_TYPES.msgpack]], outcomes: ['invalid_body'], refused: true });
  http('msgpack-as-json', 'a MessagePack body labelled JSON', { media: 'msgpack', headers: [['content-type', CONTENT_TYPES['json-batch']]], outcomes: ['invalid_body'], refused: true });
  http('empty-batch', '[]: nothing to accept', { body: () => Buffer.from('[]'), outcomes: ['no_valid_events', 'invalid_body'], noEvents: true });
  http('json-NaN-literal', 'NaN is not JSON', { events: [{ set: [[['data', 'latency_ms'], new JsonText('NaN')]] }], outcomes: ['invalid_body'], refused: true });
  http('json-bom', 'a UTF-8 byte order mark before the JSON', { body: (b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]), outcomes: ['accepted', 'invalid_body'] });

  // --- gzip ------------------------------------------------------------------------------------
  const bombs = gzipBombs();
  http('gzip-bomb-9MiB', '9 MiB of zeros in about 9 KB', { body: () => bombs.zeros9, headers: [['content-type', CONTENT_TYPES['json-batch']], ['content-encoding', 'gzip']], outcomes: ['body_too_large'], refused: true });
  http('gzip-bomb-64MiB', '64 MiB of zeros in about 64 KB', { body: () => bombs.zeros64, headers: [['content-type', CONTENT_TYPES['json-batch']], ['content-encoding', 'gzip']], outcomes: ['body_too_large'], refused: true });
  http('gzip-bomb-json-spaces', 'a JSON array padded past 8 MiB with spaces', { body: () => bombs.jsonSpaces, headers: [['content-type', CONTENT_TYPES['json-batch']], ['content-encoding', 'gzip']], outcomes: ['body_too_large'], refused: true });
  const gz = (b: Uint8Array): Buffer => gzipSync(b);
  const ceGzip: [string, string][] = [['content-type', CONTENT_TYPES['json-batch']], ['content-encoding', 'gzip']];
  http('gzip-truncated', 'gzip cut before its trailer', { headers: [...ceGzip], body: (b) => gz(b).subarray(0, gz(b).length - 5), outcomes: ['invalid_body'], refused: true });
  http('gzip-bad-crc', 'the CRC32 of the trailer flipped', {
    headers: [...ceGzip],
    body: (b) => {
      const g = gz(b);
      g[g.length - 6] = (g[g.length - 6] as number) ^ 0xff;
      return g;
    },
    outcomes: ['invalid_body'],
    refused: true,
  });
  http('gzip-not-gzip', 'Content-Encoding: gzip on a plain body', { headers: [...ceGzip], outcomes: ['invalid_body'], refused: true });
  http('gzip-twice', 'gzip of gzip, labelled once', { headers: [...ceGzip], body: (b) => gz(gz(b)), outcomes: ['invalid_body'], refused: true });
  http('gzip-two-members', 'RFC 1952 allows several members', { headers: [...ceGzip], body: (b) => Buffer.concat([gz(b.subarray(0, 10)), gz(b.subarray(10))]), outcomes: ['accepted', 'invalid_body'] });
  http('gzip-fname', 'a gzip header with FNAME', {
    headers: [...ceGzip],
    body: (b) => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 0xff]), Buffer.from('events.json\0'), gz(b).subarray(10)]),
    outcomes: ['accepted', 'invalid_body'],
  });
  http('content-encoding-br', 'brotli is not accepted', { headers: [['content-type', CONTENT_TYPES['json-batch']], ['content-encoding', 'br']], outcomes: ['unsupported_encoding'], refused: true });
  http('content-encoding-list', '"gzip, gzip"', { headers: [['content-type', CONTENT_TYPES['json-batch']], ['content-encoding', 'gzip, gzip']], outcomes: ['unsupported_encoding'], refused: true });
  const pad = (b: Uint8Array, total: number): Uint8Array => Buffer.concat([b, Buffer.alloc(total - b.length, 0x20)]);
  http('decoded-exactly-8MiB', 'the decoded limit exactly: accepted', { headers: [...ceGzip], body: (b) => gzipSync(pad(b, MAX_DECODED_BYTES), { level: 1 }), outcomes: ['accepted'] });
  http('decoded-8MiB-plus-1', 'one byte past the decoded limit', { headers: [...ceGzip], body: (b) => gzipSync(pad(b, MAX_DECODED_BYTES + 1), { level: 1 }), outcomes: ['body_too_large'], refused: true });
  http('sent-exactly-1MiB', 'the limit as sent exactly: accepted', { body: (b) => pad(b, MAX_BODY_BYTES), outcomes: ['accepted'] });
  http('sent-1MiB-plus-1', 'one byte over: 413, the connection may close', { body: (b) => pad(b, MAX_BODY_BYTES + 1), outcomes: ['body_too_large'], refused: true, mayClose: true });

  // --- binary mode -----------------------------------------------------------------------------
  const binary = (name: string, note: string, o: Record<string, string | null>, expect: Omit<EventExpectation, 'id' | 'mutation' | 'row'>, outcomes: Outcome[], body?: Buffer): void => {
    const id = `cur-bin-${counter}`;
    const src = `https://gw.example/cur/${counter}`;
    const attrs: Record<string, string | null> = { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': src, 'ce-type': 'com.machpay.gateway.request.v1', 'ce-time': '2026-01-01T00:00:00Z', ...o };
    const headers: [string, string][] = [['content-type', 'application/json'], ...Object.entries(attrs).flatMap(([k, v]) => (v === null ? [] : [[k, v] as [string, string]]))];
    const key = (v: string): string => `${attrs['ce-source'] ?? src}|${v}`;
    const sentId = attrs['ce-id'] ?? id;
    const exp: EventExpectation = {
      ...expect,
      id: attrs['ce-id'] ?? null,
      anyId: true,
      mutation: 'curated',
      // The row it would be: under its own (source, id); a refused one must not be there either.
      // A non-ASCII id may be read as UTF-8 or as Latin-1 (a header has no charset).
      ...(/[^\u0000-\u007f]/.test(sentId)
        ? { altRows: [sentId, Buffer.from(sentId, 'utf8').toString('latin1')].map((v) => ({ table: 'gateway_telemetry' as const, key: key(v) })) }
        : { row: { table: 'gateway_telemetry' as const, key: key(sentId) } }),
    };
    http(name, note, { endpoint: 'ingest', headers, body: () => body ?? Buffer.from(JSON.stringify(GATEWAY_DATA)), outcomes, expectEvents: [exp] });
  };
  const refusedEvent = { verdict: 'reject' as const, codes: ['invalid_event', 'unknown_type'] as EventErrorCode[] };
  binary('binary-valid', 'binary mode, gateway event', {}, { verdict: 'accept', codes: [] }, ['accepted']);
  binary('binary-no-ce-id', 'application/json without ce-id', { 'ce-id': null }, refusedEvent, ['unsupported_media_type', 'invalid_body', 'no_valid_events']);
  binary('binary-specversion-0.3', 'ce-specversion: 0.3', { 'ce-specversion': '0.3' }, { ...refusedEvent, field: 'specversion' }, ['no_valid_events']);
  binary('binary-type-unknown', 'ce-type of nothing', { 'ce-type': 'com.example.x' }, { verdict: 'reject', codes: ['unknown_type'] }, ['no_valid_events']);
  binary('binary-no-time', 'ce-time missing: time is required', { 'ce-time': null }, { ...refusedEvent, field: 'time' }, ['no_valid_events']);
  binary('binary-data-array', 'the body is an array, not a data object', {}, { ...refusedEvent, field: 'data' }, ['no_valid_events', 'invalid_body'], Buffer.from('[1,2]'));
  binary('binary-id-129', 'ce-id of 129 characters', { 'ce-id': 'i'.repeat(129) }, { ...refusedEvent, field: 'id' }, ['no_valid_events']);
  binary('binary-latin1-inside-id', 'a UTF-8 é inside ce-id (read as UTF-8 or Latin-1; either is kept)', { 'ce-id': `cur-é-${counter}` }, { verdict: 'either', codes: ['invalid_event'] }, ['accepted', 'no_valid_events']);

  // --- §3 signatures ---------------------------------------------------------------------------
  const sig401 = (name: string, note: string, tweak: AuthTweak, outcomes: Outcome[] = ['bad_signature']): void => http(name, note, { tweak, outcomes, refused: true });
  sig401('sig-missing-all', 'no signature headers', { drop: ['agent', 'timestamp', 'signature'] }, ['missing_signature']);
  sig401('sig-missing-timestamp', 'X-MachPay-Timestamp missing', { drop: ['timestamp'] }, ['missing_signature']);
  sig401('sig-agent-off-curve', '32 bytes that are not a curve point', { agentHeader: '4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi' });
  sig401('sig-agent-bad-base58', '0, O, I and l are not base58', { agentHeader: '0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OI' });
  sig401('sig-agent-small-order', 'the 32-byte key 00…01, a small-order point', { agentHeader: '11111111111111111111111111111112' }, ['bad_signature']);
  sig401('sig-63-bytes', 'a 63-byte signature', { signatureHeader: Buffer.alloc(63, 1).toString('base64') });
  sig401('sig-65-bytes', 'a 65-byte signature', { signatureHeader: Buffer.alloc(65, 1).toString('base64') });
  sig401('sig-base64url', 'base64url alphabet, no padding', { signatureHeader: Buffer.alloc(64, 0xfb).toString('base64url') });
  sig401('sig-bit-flipped', 'one bit of a real signature', { flipSignature: true });
  sig401('sig-other-signer', 'signed by another agent', { signerSeed: OTHER_SEED });
  sig401('sig-other-path', 'signed for /v1/ingest', { signPath: '/v1/ingest' });
  sig401('sig-skew-301s', '301 s in the past', { skewMs: -301_000 }, ['timestamp_out_of_window']);
  sig401('sig-skew-future', 'an hour ahead', { skewMs: 3_600_000 }, ['timestamp_out_of_window']);
  sig401('sig-seconds', 'Unix seconds instead of milliseconds', { timestampTemplate: '{seconds}' }, ['timestamp_out_of_window', 'bad_signature']);
  sig401('sig-agent-10KB', 'a 10 000-character agent header', { agentHeader: 'x'.repeat(10_000) });
  http('sig-skew-290s', 'inside the window: accepted', { tweak: { skewMs: -290_000 } });

  // --- §4 API keys -----------------------------------------------------------------------------
  const key401 = (name: string, note: string, key: Extract<Auth, { mode: 'key' }>['key'], header?: string): void =>
    http(name, note, { endpoint: 'ingest', auth: { mode: 'key', key, ...(header === undefined ? {} : { header }) }, outcomes: ['invalid_api_key'], refused: true });
  key401('key-none', 'no Authorization', 'primary', '');
  key401('key-unknown', 'well-formed, not issued', 'unknown');
  key401('key-revoked', 'revoked', 'revoked');
  key401('key-basic', 'Basic scheme', 'primary', 'Basic {key}');
  key401('key-suffixed', 'the key with a byte appended', 'primary', 'Bearer {key}x');
  http('key-agent-signature-on-ingest', 'a §3 signature on /v1/ingest', { endpoint: 'ingest', auth: { mode: 'agent', seed: SEED }, outcomes: ['invalid_api_key'], refused: true });

  // --- Content-Type ----------------------------------------------------------------------------
  http('ct-missing', 'no Content-Type', { headers: [], outcomes: ['unsupported_media_type'], refused: true });
  http('ct-text-plain', 'text/plain', { headers: [['content-type', 'text/plain']], outcomes: ['unsupported_media_type'], refused: true });
  http('ct-latin1', 'charset=latin1: the body would be misread', { headers: [['content-type', `${CONTENT_TYPES['json-batch']}; charset=latin1`]], outcomes: ['unsupported_media_type', 'accepted'] });
  http('ct-upper-case', 'media types are case-insensitive', { headers: [['content-type', CONTENT_TYPES['json-batch'].toUpperCase()]], outcomes: ['accepted', 'unsupported_media_type'] });

  // --- the HTTP layer (raw sockets) ------------------------------------------------------------
  raw('raw-header-64KiB', 'a 64 KiB header value', [[signedPart(counter, { extraHeaders: [['x-pad', 'a'.repeat(64 * 1024)]] })]], 1);
  raw('raw-header-256KiB', 'a 256 KiB header value', [[signedPart(counter, { extraHeaders: [['x-pad', 'a'.repeat(256 * 1024)]] })]], 1);
  raw('raw-1000-headers', '1000 repeated headers', [[signedPart(counter, { extraHeaders: Array.from({ length: 1000 }, (_, i) => ['x-rep', String(i)] as [string, string]) })]], 1);
  raw('raw-conflicting-content-length', 'Content-Length twice, different', [[signedPart(counter, { contentLength: '5\r\ncontent-length: 6' })]], 1);
  raw('raw-chunked', 'Transfer-Encoding: chunked', [[bytes('POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents-batch+json\r\ntransfer-encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n')]], 1);
  raw('raw-short-body-fin', 'the body ends (FIN) before Content-Length', [[bytes('POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents-batch+json\r\ncontent-length: 100\r\n\r\n[')]], 1, { halfClose: true });
  raw('raw-pipelined-two', 'two signed POSTs in one write (see receiver-bugs.test.ts)', [[signedPart(counter), signedPart(counter + 1000)]], 2, { timeoutMs: 8000 });
  raw('raw-garbage', 'not HTTP at all', [[bytes('GARBAGE\r\n\r\n')]], 1, { timeoutMs: 3000 });
  raw('raw-http10-no-host', 'HTTP/1.0 without Host', [[bytes('POST /v1/agent HTTP/1.0\r\ncontent-length: 2\r\n\r\n[]')]], 1, { timeoutMs: 3000 });
  raw('raw-slowloris', 'header bytes 200 ms apart, never finished', Array.from({ length: 8 }, (_, i) => [bytes(i === 0 ? 'POST /v1/agent HTTP/1.1\r\n' : `x-slow-${i}: ${i}\r\n`)]), 0, { pauseMs: 200, timeoutMs: 2500 });
  return all;
}

export function curatedCases(): CuratedCase[] {
  counter = 0;
  all.length = 0;
  return build();
}
