import type pg from 'pg';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ThrottledLog, type Logger } from '../logger.js';
import { sendMethodNotAllowed } from '../server/index.js';
import { authenticate, authorize, isLinkedTo, ReadError, sendJson, sendReadError, type Credentials, type ScopedKeyCache } from './read-side.js';
import { TOKEN_TTL_MS, type StreamTokens } from './stream-tokens.js';
import { parseTopic, topicText } from './topics.js';

export const TOKENS_PATH = '/v1/stream/tokens';

export interface TokensRouteContext {
  pool: pg.Pool;
  tokens: StreamTokens;
  keys: ScopedKeyCache;
  clock: () => number;
  log: Logger;
}

const MAX_BODY = 16 * 1024;
const MAX_TOPICS = 32;

/**
 * POST /v1/stream/tokens (docs/read-api.md §4): a read key, body {"topics": [...]} →
 * 201 {"token", "expires_at"}. Each agent topic must name an agent linked to the key's tenant.
 */
export function attachTokensRoute(app: TemplatedApp, ctx: TokensRouteContext): void {
  const failures = new ThrottledLog(ctx.log, 10_000);
  app.post(TOKENS_PATH, (res: HttpResponse, req: HttpRequest) => {
    const creds: Credentials = {
      authorization: req.getHeader('authorization'),
      signature: { agent: req.getHeader('x-machpay-agent'), timestamp: req.getHeader('x-machpay-timestamp'), signature: req.getHeader('x-machpay-signature') },
    };
    const url = req.getUrl();
    let done = false;
    res.onAborted(() => (done = true));
    const reply = (status: number, body: unknown): void => {
      if (done) return;
      done = true;
      sendJson(res, status, JSON.stringify(body));
    };
    const fail = (e: ReadError): void => {
      if (done) return;
      done = true;
      sendReadError(res, e);
    };
    readBody(res, (body) => {
      if (body === null) return fail(new ReadError('body_too_large', `The body is over ${MAX_BODY} bytes.`));
      issue(ctx, creds, url, body)
        .then((r) => (r instanceof ReadError ? fail(r) : reply(201, r)))
        .catch((err: unknown) => {
          failures.warn({ err: (err as Error).message }, 'stream token request failed');
          fail(new ReadError('internal_error'));
        });
    });
  });
  app.any(TOKENS_PATH, (res) => sendMethodNotAllowed(res, ['POST']));
}

async function issue(ctx: TokensRouteContext, creds: Credentials, url: string, body: Buffer): Promise<{ token: string; expires_at: string } | ReadError> {
  const nowMs = ctx.clock();
  const p = await authenticate(creds, url, body, { keys: ctx.keys, nowMs, windowMs: 300_000 });
  if (p instanceof ReadError) return p;
  if (p.kind === 'agent') return new ReadError('forbidden', 'Stream tokens are issued to API keys with the read scope.');
  const denied = authorize(p, { scope: 'read', agentMayCall: false });
  if (denied !== null) return denied;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return new ReadError('invalid_request', 'The body is not JSON.');
  }
  const topics = (parsed as { topics?: unknown } | null)?.topics;
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS) {
    return new ReadError('invalid_request', `The body must be {"topics": [...]} with 1 to ${MAX_TOPICS} topics.`);
  }
  const out: string[] = [];
  for (const t of topics) {
    const topic = typeof t === 'string' ? parseTopic(t) : null;
    if (topic === null) return new ReadError('invalid_request', 'Each topic must be agent:{agent_id} or agent:*.');
    if (topic.kind === 'agent' && !(await isLinkedTo(ctx.pool, topic.agentId, p.key.tenantId))) {
      return new ReadError('not_found', 'No such agent, or not one this principal may read.');
    }
    const text = topicText(topic);
    if (!out.includes(text)) out.push(text);
  }
  const expiresAtMs = nowMs + TOKEN_TTL_MS;
  return { token: ctx.tokens.issue({ tenantId: p.key.tenantId, topics: out, expiresAtMs }), expires_at: new Date(expiresAtMs).toISOString() };
}

function readBody(res: HttpResponse, done: (body: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over) return;
    size += chunk.byteLength;
    if (size > MAX_BODY) {
      over = true;
      return done(null);
    }
    // uWS reuses the chunk's memory after this callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
    if (isLast) done(Buffer.concat(chunks));
  });
}
