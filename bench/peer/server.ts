/**
 * The receiver a capable user would write instead, measured beside ours in the same run
 * (bench/README.md): node:http, native Ed25519 verify with cached keys, JSON.parse, and one
 * multi-row INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING per request through a pg
 * pool. Same protocol for what the scenarios send (/v1/agent, JSON batches and single events,
 * gzip), same validation essentials, same 202 body, same tables.
 *
 *   PORT=8081 DATABASE_URL=postgres://… [PG_POOL_SIZE=4] node dist/bench/peer/server.js
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { checkSignatureHeaders, signatureVerifies } from './agent-signature.js';
import { addInteraction, InteractionColumns, type Rejection } from './interaction-columns.js';
import { InteractionStore } from './interaction-insert.js';

const MAX_BODY = 1024 * 1024;
const MAX_DECODED = 8 * 1024 * 1024;
const MAX_EVENTS = 1000;
const PATH = '/v1/agent';

const port = Number(process.env.PORT ?? 8081);
const host = process.env.HOST ?? '127.0.0.1';
const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl === undefined || databaseUrl === '') throw new Error('DATABASE_URL is required');
const store = new InteractionStore(databaseUrl, Number(process.env.PG_POOL_SIZE ?? 4));

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function fail(res: ServerResponse, status: number, code: string, message: string, rejected?: Rejection[]): void {
  send(res, status, JSON.stringify(rejected === undefined ? { error: { code, message } } : { error: { code, message }, rejected }));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads the body straight into a buffer that already holds the signing prefix, so the signed
 * bytes need no second copy. Resolves null (after answering 413) when it is too large.
 */
function readSigned(req: IncomingMessage, res: ServerResponse, prefix: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(header(req, 'content-length') ?? NaN);
    if (Number.isInteger(declared) && declared > MAX_BODY) {
      fail(res, 413, 'body_too_large', `The body is ${declared} bytes; the limit is ${MAX_BODY}.`);
      req.resume();
      return resolve(null);
    }
    let buf = Buffer.allocUnsafe(prefix.length + (Number.isInteger(declared) ? declared : 64 * 1024));
    let at = buf.write(prefix, 0, 'latin1');
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      if (at - prefix.length + chunk.length > MAX_BODY) {
        tooLarge = true;
        return;
      }
      if (at + chunk.length > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + chunk.length));
        buf.copy(bigger, 0, 0, at);
        buf = bigger;
      }
      at += chunk.copy(buf, at);
    });
    req.on('end', () => {
      if (tooLarge) {
        fail(res, 413, 'body_too_large', `The body is over ${MAX_BODY} bytes.`);
        return resolve(null);
      }
      resolve(buf.subarray(0, at));
    });
    req.on('error', reject);
  });
}

async function handleAgent(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const creds = checkSignatureHeaders(header(req, 'x-machpay-agent'), header(req, 'x-machpay-timestamp'), header(req, 'x-machpay-signature'));
  const contentType = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  const single = contentType === 'application/cloudevents+json';
  const encoding = (header(req, 'content-encoding') ?? '').trim().toLowerCase();
  const prefix = typeof creds === 'string' ? '' : `machpay-v1\n${creds.timestamp}\n${PATH}\n`;
  const signed = await readSigned(req, res, prefix);
  if (signed === null) return;
  if (typeof creds === 'string') return fail(res, 401, creds, 'The request signature is missing, malformed or out of window.');
  if (!signatureVerifies(signed, creds)) return fail(res, 401, 'bad_signature', 'The request signature does not verify.');
  if (!single && contentType !== 'application/cloudevents-batch+json') {
    return fail(res, 415, 'unsupported_media_type', 'This peer takes application/cloudevents-batch+json and application/cloudevents+json.');
  }
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') return fail(res, 415, 'unsupported_encoding', 'Only gzip and identity are accepted.');

  let body: Buffer = signed.subarray(prefix.length);
  let parsed: unknown;
  try {
    if (encoding === 'gzip') body = gunzipSync(body, { maxOutputLength: MAX_DECODED });
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return fail(res, 400, 'invalid_body', 'The request body could not be decoded.');
  }
  const events = single ? [parsed] : parsed;
  if (!Array.isArray(events)) return fail(res, 400, 'invalid_body', 'A batch must be a JSON array.');
  if (events.length > MAX_EVENTS) return fail(res, 413, 'too_many_events', `At most ${MAX_EVENTS} events per request.`);

  const cols = new InteractionColumns();
  const rejected: Rejection[] = [];
  for (let i = 0; i < events.length; i++) {
    const r = addInteraction(events[i], i, creds.agentId, cols);
    if (r !== null) rejected.push(r);
  }
  if (cols.length === 0) return fail(res, 400, 'no_valid_events', `None of the ${events.length} events was valid.`, rejected);
  try {
    await store.insert(creds.agentId, cols);
  } catch {
    return fail(res, 503, 'not_ready', 'PostgreSQL did not take the events; nothing from this request was acknowledged.');
  }
  send(res, 202, JSON.stringify({ accepted: cols.length, rejected }));
}

const server = createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
  const url = req.url ?? '';
  if (req.method === 'POST' && url === PATH) {
    handleAgent(req, res).catch(() => {
      if (!res.headersSent) fail(res, 400, 'invalid_body', 'The request could not be read.');
    });
    return;
  }
  req.resume();
  if (req.method === 'GET' && (url === '/readyz' || url === '/healthz')) return send(res, 200, '{"status":"ready"}');
  fail(res, 404, 'not_found', 'No such endpoint.');
});

await store.ping();
server.listen(port, host, () => process.stdout.write(`peer listening on ${host}:${port}\n`));

const stop = () => {
  server.close();
  server.closeIdleConnections();
  void store.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
