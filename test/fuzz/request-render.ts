/**
 * Turns a case into the bytes on the wire at send time: the §3 signature headers (with
 * their tweaks) or the §4 API key are made here, over a fresh timestamp, so a case kept in
 * the corpus replays with a valid signature whenever it is replayed.
 */
import { agentFromSeed, signRequest } from './agent-book.js';
import type { Auth, HttpCase, RawCase, RawPart } from './fuzz-case.js';
import { binaryModeSignedLines, SIGNED_BINARY_MODE_HEADERS } from '../../src/protocol/index.js';

export interface ApiKeys {
  primary: string;
  opaque: string;
  revoked: string;
}

const UNKNOWN_KEY = `mpk_live_${'A'.repeat(43)}`;

/**
 * The ce-* lines a binary-mode request signs (§3): the first value of each header, without
 * the whitespace HTTP strips around a field value; '' when the request is not binary mode
 * (its first Content-Type is not application/json).
 */
function binaryLinesOf(headers: readonly (readonly [string, string])[]): string {
  const first = (name: string): string | undefined => headers.find(([n]) => n.toLowerCase() === name)?.[1];
  const type = first('content-type');
  if (type === undefined || (type.split(';')[0] ?? '').trim().toLowerCase() !== 'application/json') return '';
  return binaryModeSignedLines(SIGNED_BINARY_MODE_HEADERS.map((h) => first(h)?.replace(/^[ \t]+|[ \t]+$/g, '')));
}

function agentHeaders(auth: Extract<Auth, { mode: 'agent' }>, path: string, body: Uint8Array, binaryLines = ''): [string, string][] {
  const t = auth.tweak ?? {};
  const agent = agentFromSeed(auth.seed);
  const now = Date.now() + (t.skewMs ?? 0);
  const timestamp = t.timestampTemplate === undefined ? String(now) : t.timestampTemplate.replace('{now}', String(now)).replace('{seconds}', String(Math.floor(now / 1000)));
  const signer = t.signerSeed === undefined ? agent : agentFromSeed(t.signerSeed);
  const signPath = t.signPath ?? (path.split('?')[0] as string);
  const signed = signRequest(signer, timestamp, signPath, t.signBody === undefined ? body : Buffer.from(t.signBody, 'base64'), binaryLines);
  if (t.flipSignature === true) signed[7] = (signed[7] as number) ^ 0x10;
  const out: [string, string][] = [];
  const drop = new Set(t.drop ?? []);
  if (!drop.has('agent')) out.push(['x-machpay-agent', t.agentHeader ?? agent.agentId]);
  if (!drop.has('timestamp')) out.push(['x-machpay-timestamp', t.timestampHeader ?? timestamp]);
  if (!drop.has('signature')) out.push(['x-machpay-signature', t.signatureHeader ?? signed.toString('base64')]);
  if (t.extraSignatureHeader !== undefined) out.push(['x-machpay-signature', t.extraSignatureHeader]);
  return out;
}

function keyHeaders(auth: Extract<Auth, { mode: 'key' }>, keys: ApiKeys): [string, string][] {
  const key = { primary: keys.primary, opaque: keys.opaque, revoked: keys.revoked, unknown: UNKNOWN_KEY, malformed: 'nope' }[auth.key];
  const template = auth.header ?? 'Bearer {key}';
  if (template === '') return [];
  return [['authorization', template.replace(/\{key\}/g, key).replace('{keytail}', key.replace(/^mpk_(live|test)_/, ''))]];
}

/** Header lines; values are written as UTF-8 (ASCII stays ASCII; anything else is obs-text). */
function headBytes(requestLine: string, headers: readonly (readonly [string, string])[]): Buffer {
  const lines = [requestLine, ...headers.map(([n, v]) => `${n}: ${v}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

export function renderHttpCase(c: HttpCase, keys: ApiKeys, port: number): Buffer {
  const body = Buffer.from(c.body, 'base64');
  const headers: [string, string][] = [['host', `127.0.0.1:${port}`], ...c.headers];
  if (c.auth.mode === 'agent') headers.push(...agentHeaders(c.auth, c.path, body, binaryLinesOf(c.headers)));
  else if (c.auth.mode === 'key') headers.push(...keyHeaders(c.auth, keys));
  const cl = c.contentLength ?? 'auto';
  if (cl === 'auto') headers.push(['content-length', String(body.length)]);
  else if (cl !== null) headers.push(['content-length', cl]);
  return Buffer.concat([headBytes(`${c.method} ${c.path} HTTP/1.1`, headers), body]);
}

function renderPart(p: RawPart, port: number): Buffer {
  if ('bytes' in p) return Buffer.from(p.bytes, 'base64');
  const s = p.signed;
  const body = Buffer.from(s.body, 'base64');
  const headers: [string, string][] = [
    ['host', `127.0.0.1:${port}`],
    ['content-type', s.contentType],
    ...(s.extraHeaders ?? []),
    ...agentHeaders({ mode: 'agent', seed: s.seed }, '/v1/agent', body, binaryLinesOf([['content-type', s.contentType], ...(s.extraHeaders ?? [])])),
    ['content-length', s.contentLength ?? String(body.length)],
  ];
  return Buffer.concat([headBytes('POST /v1/agent HTTP/1.1', headers), body]);
}

export function renderRawCase(c: RawCase, port: number): Buffer[] {
  return c.writes.map((parts) => Buffer.concat(parts.map((p) => renderPart(p, port))));
}
