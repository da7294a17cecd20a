import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ThrottledLog, type Logger } from '../logger.js';
import { sendMethodNotAllowed } from '../server/index.js';
import type { EventIdCodec } from './event-ids.js';
import { startOf, type LogPosition } from './log-position.js';
import { authenticate, authorize, isLinkedTo, parseQuery, ReadError, sendReadError, type Credentials, type ScopedKeyCache } from './read-side.js';
import type { StreamHub } from './stream-hub.js';
import type { StreamTokens } from './stream-tokens.js';
import { Subscriber, type StreamReader, type SubscriberLimits } from './subscriber.js';
import { parseTopic, topicText, type Topic } from './topics.js';
import type pg from 'pg';

export const EVENTS_PATH = '/v1/agent/events';

export interface EventsRouteContext {
  pool: pg.Pool;
  hub: StreamHub;
  ids: EventIdCodec;
  tokens: StreamTokens;
  keys: ScopedKeyCache;
  clock: () => number;
  timestampWindowMs: number;
  resumeWindowMs: number;
  limits: SubscriberLimits;
  log: Logger;
}

const QUERY = new Set(['topic', 'last_event_id', 'access_token']);
const EMPTY = new Uint8Array(0);

interface Opened {
  topic: Topic;
  reader: StreamReader;
  resumeAfter: LogPosition | null;
  /** Set when the client's id cannot be resumed from: the stream starts with a `reset`. */
  resetReason: string | null;
}

/**
 * GET /v1/agent/events (docs/read-api.md §4). Checks, in order: query (400), credentials
 * (401: key, agent signature or stream token), scope and topic (403), the agent (404); then
 * the response turns into an event stream and the hub takes it.
 */
export function attachEventsRoute(app: TemplatedApp, ctx: EventsRouteContext): void {
  const failures = new ThrottledLog(ctx.log, 10_000);
  app.get(EVENTS_PATH, (res: HttpResponse, req: HttpRequest) => {
    const url = req.getUrl();
    const rawQuery = req.getQuery() ?? '';
    const lastEventHeader = req.getHeader('last-event-id');
    const creds: Credentials = {
      authorization: req.getHeader('authorization'),
      signature: { agent: req.getHeader('x-machpay-agent'), timestamp: req.getHeader('x-machpay-timestamp'), signature: req.getHeader('x-machpay-signature') },
    };
    let aborted = false;
    let sub: Subscriber | null = null;
    res.onAborted(() => {
      aborted = true;
      sub?.aborted();
    });
    const fail = (e: ReadError): void => {
      if (!aborted) sendReadError(res, e);
      aborted = true;
    };
    admit(ctx, rawQuery, rawQuery === '' ? url : `${url}?${rawQuery}`, creds, lastEventHeader)
      .then(async (o) => {
        if (o instanceof ReadError) return fail(o);
        if (aborted) return;
        const s = new Subscriber(res, o.topic, o.reader, startOf(0n), ctx.limits);
        sub = s;
        s.openingReset = o.resetReason;
        await ctx.hub.add(s, o.resumeAfter);
      })
      .catch((err: unknown) => {
        failures.warn({ err: (err as Error).message }, 'stream request failed');
        if (sub === null) fail(new ReadError('internal_error'));
        else sub.reset('server_error');
      });
  });
  app.any(EVENTS_PATH, (res) => sendMethodNotAllowed(res, ['GET']));
}

async function admit(
  ctx: EventsRouteContext,
  rawQuery: string,
  signedPath: string,
  creds: Credentials,
  lastEventHeader: string,
): Promise<Opened | ReadError> {
  const q = parseQuery(rawQuery, QUERY);
  if (q instanceof ReadError) return q;
  const topicParam = q.get('topic');
  if (topicParam === undefined) return new ReadError('invalid_query', "Query parameter 'topic' is required.");
  const topic = parseTopic(topicParam);
  if (topic === null) return new ReadError('invalid_query', "Query parameter 'topic' must be agent:{agent_id} or agent:*.");
  const nowMs = ctx.clock();

  let reader: StreamReader;
  const token = q.get('access_token');
  if (token !== undefined && creds.authorization === '') {
    const grant = ctx.tokens.verify(token, nowMs);
    if (grant === null) return new ReadError('invalid_api_key', 'The stream token is malformed, expired or not from this deployment.');
    if (!grant.topics.includes(topicText(topic))) return new ReadError('forbidden', 'The stream token does not grant this topic.');
    reader = { kind: 'tenant', tenantId: grant.tenantId };
  } else {
    const p = await authenticate(creds, signedPath, EMPTY, { keys: ctx.keys, nowMs, windowMs: ctx.timestampWindowMs });
    if (p instanceof ReadError) return p;
    const denied = authorize(p, { scope: 'read', agentMayCall: true });
    if (denied !== null) return denied;
    reader = p.kind === 'agent' ? { kind: 'agent', agentId: p.agentId } : { kind: 'tenant', tenantId: p.key.tenantId };
  }

  if (reader.kind === 'agent') {
    if (topic.kind === 'tenant') return new ReadError('forbidden', 'An agent streams its own topic, agent:{its id}.');
    if (topic.agentId !== reader.agentId) return new ReadError('not_found', 'No such agent, or not one this principal may read.');
  } else if (topic.kind === 'agent' && !(await isLinkedTo(ctx.pool, topic.agentId, reader.tenantId))) {
    return new ReadError('not_found', 'No such agent, or not one this principal may read.');
  }

  const lastId = lastEventHeader !== '' ? lastEventHeader : (q.get('last_event_id') ?? '');
  if (lastId === '') return { topic, reader, resumeAfter: null, resetReason: null };
  const decoded = ctx.ids.decode(lastId);
  if (decoded === null) return { topic, reader, resumeAfter: null, resetReason: 'unknown_event_id' };
  if (nowMs - decoded.sentAtMs > ctx.resumeWindowMs) return { topic, reader, resumeAfter: null, resetReason: 'event_id_too_old' };
  return { topic, reader, resumeAfter: decoded.position, resetReason: null };
}
