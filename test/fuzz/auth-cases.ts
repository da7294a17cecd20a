/**
 * Hostile authentication and headers over valid bodies: the §3 signature headers (missing,
 * malformed base58 / base64, wrong lengths, wrong signer, path, body or timestamp, skew
 * past the window), §4 API keys, and Content-Type values. Valid bodies make the outcome
 * depend on the headers alone.
 */
import { buildValidEvent, kindsFor } from './event-model.js';
import { validEvent, type BuiltEvent } from './event-mutations.js';
import { allRejected, eventsOutcomes, union } from './expectations.js';
import { CONTENT_TYPES, PATHS, b64 } from './events-case.js';
import type { Auth, AuthTweak, EndpointName, HttpCase, Outcome } from './fuzz-case.js';
import { writeJson } from './json-writer.js';
import type { Prng } from './prng.js';
import { pickSender, type RunEnv } from './run-env.js';

const AUTH_401: Outcome[] = ['missing_signature', 'bad_signature', 'timestamp_out_of_window'];
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

interface ValidBody {
  endpoint: EndpointName;
  seed: string;
  otherSeed: string;
  agentId: string;
  events: BuiltEvent[];
  body: Uint8Array;
}

function validBody(rng: Prng, env: RunEnv, caseIndex: number, endpoint: EndpointName): ValidBody {
  const { ident, seed } = pickSender(rng, env, endpoint, caseIndex);
  const n = rng.range(1, 3);
  const events = Array.from({ length: n }, (_, k) => validEvent(buildValidEvent(rng.pick(kindsFor(endpoint)), ident, k)));
  const other = env.pool.find((a) => a.seed !== seed) ?? env.edge[0];
  return { endpoint, seed, otherSeed: other?.seed ?? seed, agentId: ident.agentId, events, body: writeJson(events.map((e) => e.value)) };
}

function authCase(category: string, name: string, v: ValidBody, auth: Auth, outcomes: Outcome[], headers?: [string, string][], path?: string): HttpCase {
  const evs = v.events.map((e) => e.expect);
  const mayAccept = outcomes.includes('accepted');
  return {
    kind: 'http',
    category,
    name,
    method: 'POST',
    path: path ?? PATHS[v.endpoint],
    endpoint: v.endpoint,
    headers: headers ?? [['content-type', CONTENT_TYPES['json-batch']]],
    body: b64(v.body),
    auth,
    // Events count only when the request can get through; otherwise nothing may be stored.
    expect: { outcomes, events: mayAccept ? evs : allRejected(evs) },
  };
}

function randomFrom(rng: Prng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** §3: the three signature headers, one thing wrong at a time. */
export function agentAuthCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const v = validBody(rng, env, caseIndex, 'agent');
  const ok = eventsOutcomes(v.events.map((e) => e.expect));
  const cat = 'auth-agent';
  const with_ = (name: string, tweak: AuthTweak, outcomes: Outcome[], path?: string): HttpCase =>
    authCase(cat, name, v, { mode: 'agent', seed: v.seed, tweak }, outcomes, undefined, path);
  const makers: (() => HttpCase)[] = [
    () => {
      const drop = rng.pick<AuthTweak['drop']>([['agent'], ['timestamp'], ['signature'], ['agent', 'signature'], ['agent', 'timestamp', 'signature']]);
      return with_(`drop ${drop?.join('+')}`, { drop: drop ?? [] }, ['missing_signature']);
    },
    () => {
      const which = rng.pick(['agentHeader', 'timestampHeader', 'signatureHeader'] as const);
      return with_(`empty ${which}`, { [which]: '' }, ['missing_signature', 'bad_signature']);
    },
    () => {
      const bad = rng.pick([
        v.agentId.replace(/[1-9A-HJ-NP-Za-km-z]/, '0'),
        v.agentId.replace(/[1-9A-HJ-NP-Za-km-z]/, 'O'),
        v.agentId.replace(/[1-9A-HJ-NP-Za-km-z]/, 'I'),
        v.agentId.replace(/[1-9A-HJ-NP-Za-km-z]/, 'l'),
        v.agentId.slice(1),
        `${v.agentId}1`,
        `1${v.agentId}`,
        v.agentId.slice(0, 20),
        randomFrom(rng, BASE58, 88),
        'x'.repeat(10_000),
        '11111111111111111111111111111111',
        `${v.agentId.slice(0, -1)}é`,
        Buffer.from(Buffer.from(v.agentId)).toString('base64'),
        '0x' + 'ab'.repeat(32),
      ]);
      // uWS cuts a header value at its first byte ≥ 0x80 (see README): a non-ASCII value may read as missing.
      return with_(`bad X-MachPay-Agent ${JSON.stringify(bad.slice(0, 40))}`, { agentHeader: bad }, AUTH_401);
    },
    () => with_('another valid agent id than the signer', { agentHeader: env.pool.find((a) => a.agentId !== v.agentId)?.agentId ?? 'x' }, ['bad_signature']),
    () => with_('signed by another agent', { signerSeed: v.otherSeed }, ['bad_signature']),
    () => {
      // 32 bytes that are not a point on the curve: the key cannot even be imported.
      const offCurve = '4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi';
      return with_('agent key not on the curve', { agentHeader: offCurve }, ['bad_signature']);
    },
    () => {
      const bad = rng.pick([
        Buffer.alloc(63).toString('base64'),
        Buffer.alloc(65).toString('base64'),
        Buffer.alloc(64).toString('base64').replace(/=+$/, ''),
        Buffer.alloc(64, 0xfb).toString('base64url'),
        Buffer.alloc(64).toString('hex'),
        `${Buffer.alloc(64).toString('base64')} `.replace(' ', '\t'),
        Buffer.alloc(64).toString('base64').replace('A', ' '),
        'A'.repeat(10_000),
        '====',
        Buffer.alloc(64).toString('base64').replace('==', '=A'),
        'é'.repeat(88),
      ]);
      return with_(`malformed signature (${bad.length} chars)`, { signatureHeader: bad }, /[^\x00-\x7f]/.test(bad) ? AUTH_401 : ['bad_signature']);
    },
    () => with_('all-zero 64-byte signature', { signatureHeader: Buffer.alloc(64).toString('base64') }, ['bad_signature']),
    () => with_('one bit of the signature flipped', { flipSignature: true }, ['bad_signature']),
    () => with_('signed over another path', { signPath: rng.pick(['/v1/ingest', '/v1/agent/', '/V1/AGENT', '/']) }, ['bad_signature']),
    () => with_('signed over another body', { signBody: b64(new TextEncoder().encode('[]')) }, ['bad_signature']),
    () => {
      const skew = rng.pick([301_000, -301_000, 3_600_000, -86_400_000]);
      return with_(`timestamp ${skew / 1000} s off`, { skewMs: skew }, ['timestamp_out_of_window']);
    },
    () => {
      const skew = rng.pick([290_000, -290_000]);
      return with_(`timestamp ${skew / 1000} s off (inside the window)`, { skewMs: skew }, union(ok, ['timestamp_out_of_window']));
    },
    () => {
      const bad = rng.pick(['soon', '-1', '1.7e12', '', '0x1', String(Number.MAX_SAFE_INTEGER) + '0000', '١٧٠٠']);
      return with_(`timestamp header ${JSON.stringify(bad)}`, { timestampHeader: bad === '' ? 'x' : bad }, /[^\x00-\x7f]/.test(bad) ? AUTH_401 : ['bad_signature', 'timestamp_out_of_window']);
    },
    () => with_('timestamp in seconds', { timestampTemplate: '{seconds}' }, ['timestamp_out_of_window', 'bad_signature']),
    () => {
      // Signed exactly as sent, but not the canonical decimal form: §3 does not say.
      const tpl = rng.pick(['0{now}', '{now}.0', '+{now}', '{now} ']);
      return with_(`timestamp ${JSON.stringify(tpl)} (signed as sent)`, { timestampTemplate: tpl }, union(ok, AUTH_401));
    },
    () => with_('signature header twice', { extraSignatureHeader: Buffer.alloc(64, 7).toString('base64') }, union(ok, AUTH_401)),
    () => authCase(cat, 'API key instead of a signature', v, { mode: 'key', key: 'primary' }, ['missing_signature']),
    () => with_('query string on the path', {}, union(ok, AUTH_401, ['not_found']), `/v1/agent?${rng.pick(['x=1', '', 'sig=1&sig=2', '%00'])}`),
    () => with_('path with a trailing slash', {}, union(ok, AUTH_401, ['not_found', 'method_not_allowed']), rng.pick(['/v1/agent/', '//v1/agent', '/v1//agent', '/V1/AGENT', '/v1/agent/..'])),
  ];
  return rng.pick(makers)();
}

/** §4: the Authorization header. */
export function apiKeyCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const v = validBody(rng, env, caseIndex, 'ingest');
  const ok = eventsOutcomes(v.events.map((e) => e.expect));
  const cat = 'auth-key';
  const key = (name: string, k: Extract<Auth, { mode: 'key' }>['key'], header: string | undefined, outcomes: Outcome[]): HttpCase =>
    authCase(cat, name, v, { mode: 'key', key: k, ...(header === undefined ? {} : { header }) }, outcomes);
  const makers: (() => HttpCase)[] = [
    () => key('no Authorization', 'primary', '', ['invalid_api_key']),
    () => key('unknown well-formed key', 'unknown', undefined, ['invalid_api_key']),
    () => key('revoked key', 'revoked', undefined, ['invalid_api_key']),
    () => key('malformed key', 'malformed', undefined, ['invalid_api_key']),
    () => {
      const h = rng.pick(['Bearer ', 'Bearer', 'Basic {key}', 'Token {key}', 'Bearer {key}x', 'Bearer {key} extra', 'Bearer {key},Bearer {key}', 'Bearer mpk_live_', `Bearer mpk_live_${'A'.repeat(10_000)}`, 'Bearer mpk_prod_{keytail}', 'Bearer {key}%00', 'Bearer\t{key}', 'Bearer "{key}"']);
      return key(`Authorization ${JSON.stringify(h.slice(0, 40))}`, 'primary', h, ['invalid_api_key']);
    },
    () => {
      // Case and spacing variants: RFC 9110 makes the scheme case-insensitive; §4 shows one form.
      const h = rng.pick(['bearer {key}', 'BEARER {key}', 'Bearer  {key}', 'Bearer {key} ']);
      return key(`Authorization ${JSON.stringify(h)}`, 'primary', h, union(ok, ['invalid_api_key']));
    },
    () => authCase(cat, 'agent signature on /v1/ingest', v, { mode: 'agent', seed: env.pool[0]?.seed ?? '' }, ['invalid_api_key']),
  ];
  return rng.pick(makers)();
}

/** Content-Type values around the four accepted ones. */
export function mediaTypeCase(rng: Prng, env: RunEnv, caseIndex: number): HttpCase {
  const endpoint: EndpointName = rng.chance(0.7) ? 'agent' : 'ingest';
  const v = validBody(rng, env, caseIndex, endpoint);
  const ok = eventsOutcomes(v.events.map((e) => e.expect));
  const auth: Auth = endpoint === 'agent' ? { mode: 'agent', seed: v.seed } : { mode: 'key', key: 'primary' };
  const cat = 'headers-media';
  const batch = CONTENT_TYPES['json-batch'];
  const ct = (name: string, headers: [string, string][], outcomes: Outcome[]): HttpCase => authCase(cat, name, v, auth, outcomes, headers);
  const makers: (() => HttpCase)[] = [
    () => ct('no Content-Type', [], ['unsupported_media_type']),
    () => {
      const value = rng.pick(['text/plain', 'application/xml', 'application/cloudevents-batch+xml', 'application/*', '*/*', 'application/cloudevents-batch', 'multipart/form-data; boundary=x', 'x'.repeat(10_000), 'application/cloudevents-batch+json, application/json', 'application/cloudevents-batch+json;charset=latin1', 'application/cloudevents-batch+json; charset=utf-16']);
      return ct(`Content-Type ${JSON.stringify(value.slice(0, 50))}`, [['content-type', value]], ['unsupported_media_type']);
    },
    () => {
      // Case, spacing and parameters: media types are case-insensitive (RFC 9110), §2 allows parameters.
      const value = rng.pick([batch.toUpperCase(), `${batch};`, `${batch} ; charset=UTF8`, `${batch}; foo=bar`, `${batch}; foo`, `${batch}\t`, ` ${batch}`, `${batch};charset=utf-8;charset=utf-8`]);
      return ct(`Content-Type ${JSON.stringify(value)}`, [['content-type', value]], union(ok, ['unsupported_media_type']));
    },
    () => ct('application/json without ce-* headers', [['content-type', 'application/json']], ['unsupported_media_type', 'invalid_body', 'no_valid_events']),
    () => ct('Content-Type twice', [['content-type', batch], ['content-type', 'text/plain']], union(ok, ['unsupported_media_type', 'invalid_body'])),
    () => ct('MessagePack type on a JSON body', [['content-type', CONTENT_TYPES.msgpack]], ['invalid_body']),
    () => {
      const names = rng.pick(['X-Forwarded-For', 'Forwarded', 'X-Real-IP', 'Cookie', 'Accept-Encoding', 'Expect', 'Upgrade', 'TE']);
      const value = names === 'Expect' ? '100-continue' : names === 'Upgrade' ? 'websocket' : 'x'.repeat(rng.range(1, 4000));
      return ct(`extra header ${names}`, [['content-type', batch], [names, value]], union(ok, ['invalid_body']));
    },
  ];
  return rng.pick(makers)();
}

