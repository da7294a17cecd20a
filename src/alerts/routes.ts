import type pg from 'pg';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import {
  attachEndpoint,
  attachMethodNotAllowed,
  parseLimit,
  ReadError,
  resolveAgent,
  ScopedKeyCache,
  type Principal,
  type ReadEndpoint,
} from '../read/index.js';
import { acknowledgeAlert, listAlerts, UUID_TEXT, type AlertOwner, type StateFilter } from './alert-queries.js';

export interface AlertRouteDeps {
  pool: pg.Pool;
  log: Logger;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** The agent signature's clock window, as for ingest; default 300 s. */
  timestampWindowMs?: number;
  /** How long an API key lookup is reused; default 5 s. */
  keyCacheTtlMs?: number;
}

export interface AlertRoutes {
  routes: readonly { method: 'get' | 'post'; pattern: string }[];
}

const STATES: readonly StateFilter[] = ['firing', 'resolved', 'all'];
const ALERT_NOT_FOUND = new ReadError('not_found', 'No such alert, or not one this principal may read.');

function ownerOf(p: Principal): AlertOwner {
  return p.kind === 'key' ? { kind: 'tenant', tenantId: p.key.tenantId } : { kind: 'agent', agentId: p.agentId };
}

function parseState(q: ReadonlyMap<string, string>): StateFilter | ReadError {
  const v = q.get('state');
  if (v === undefined) return 'all';
  return (STATES as readonly string[]).includes(v)
    ? (v as StateFilter)
    : new ReadError('invalid_query', "Query parameter 'state' must be one of firing, resolved, all.");
}

/** The alert endpoints of docs/read-api.md §5, with the read API's authentication, checks and error shape (§1). */
export function alertEndpoints(pool: pg.Pool): ReadEndpoint[] {
  return [
    {
      method: 'get',
      pattern: '/v1/agent/alerts',
      query: ['agent_id', 'state', 'cursor', 'limit'],
      need: { scope: 'read', agentMayCall: true },
      async handle(call) {
        const state = parseState(call.query);
        if (state instanceof ReadError) return state;
        const limit = parseLimit(call.query);
        if (limit instanceof ReadError) return limit;
        const agentId = await resolveAgent(pool, call.principal, call.query);
        if (agentId instanceof ReadError) return agentId;
        const page = await listAlerts(pool, { agentId, owner: ownerOf(call.principal), state, limit, cursor: call.query.get('cursor') });
        return page instanceof ReadError ? page : { status: 200, body: page };
      },
    },
    {
      method: 'post',
      pattern: '/v1/agent/alerts/:id/ack',
      query: [],
      need: { scope: 'read', agentMayCall: true },
      // The body is ignored ({} or nothing); it is read only so that an agent's signature covers it.
      maxBody: 1024,
      async handle(call) {
        const id = (call.pathParams[0] ?? '').toLowerCase();
        if (!UUID_TEXT.test(id)) return ALERT_NOT_FOUND;
        const alert = await acknowledgeAlert(pool, id, ownerOf(call.principal), call.nowMs);
        return alert === null ? ALERT_NOT_FOUND : { status: 200, body: alert };
      },
    },
  ];
}

/** Adds the alert endpoints to `app` (register them before any catch-all route). */
export function registerAlertRoutes(app: TemplatedApp, deps: AlertRouteDeps): AlertRoutes {
  const clock = deps.clock ?? Date.now;
  const ctx = {
    keys: new ScopedKeyCache(deps.pool, deps.keyCacheTtlMs ?? 5000, 10_000, clock),
    clock,
    timestampWindowMs: deps.timestampWindowMs ?? 300_000,
    log: deps.log.child({ component: 'alerts-api' }),
  };
  const endpoints = alertEndpoints(deps.pool);
  for (const ep of endpoints) {
    attachEndpoint(app, ep, ctx);
    attachMethodNotAllowed(app, ep.pattern, [ep.method]);
  }
  return { routes: endpoints.map((e) => ({ method: e.method as 'get' | 'post', pattern: e.pattern })) };
}
