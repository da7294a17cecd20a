import type pg from 'pg';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import { sendMethodNotAllowed } from '../server/index.js';
import { encodeCursor, parseDeliveriesQuery } from './deliveries-query.js';
import { Exchange } from './http-exchange.js';
import { parseRegistration } from './registration.js';
import { WebhookRequestError } from './webhook-errors.js';
import { createWebhook, deleteWebhook, listDeliveryAttempts, listWebhooks, webhookExists } from './webhook-store.js';

/** Who is calling, as the server's API-key authentication established it. */
export interface WebhookPrincipal {
  readonly tenantId: string;
  readonly scopes: readonly string[];
}

/** A refusal by the authenticator (`401 invalid_api_key`, …), passed on as it is. */
export interface AuthRefusal {
  readonly status: number;
  readonly code: string;
  readonly message?: string;
}

/** Authenticates a request from its headers (lower-case names, as received). */
export type WebhookAuthenticator = (headers: Readonly<Record<string, string>>) => Promise<WebhookPrincipal | AuthRefusal>;

export interface WebhookRoutes {
  /** Every (method, path pattern) registered, for the API description and its test. */
  routes: typeof WEBHOOK_ROUTES;
}

export interface WebhookRouteDeps {
  readonly pool: pg.Pool;
  readonly authenticate: WebhookAuthenticator;
  readonly allowPrivateUrls: boolean;
  readonly log: Logger;
  /** Registration bodies over this are refused with 413. */
  readonly maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ADMIN_SCOPE = 'admin';

/**
 * The webhook endpoints of docs/read-api.md §6, all for a tenant admin: registration (the
 * secret shown once), listing (never the secret), deletion, and the attempt log. A webhook of
 * another tenant is answered exactly as one that does not exist.
 */
export function registerWebhookRoutes(app: TemplatedApp, deps: WebhookRouteDeps): WebhookRoutes {
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const policy = { allowPrivateUrls: deps.allowPrivateUrls };

  app.post('/v1/webhooks', (res, req) => {
    const ex = new Exchange(res, req, 0);
    const body = ex.readBody(maxBody);
    serve(ex, deps, async (principal) => {
      const type = (ex.headers['content-type'] ?? 'application/json').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') throw new WebhookRequestError('unsupported_media_type');
      const bytes = await body;
      if (bytes === null) return;
      const registration = await parseRegistration(bytes, policy);
      const created = await createWebhook(deps.pool, { tenantId: principal.tenantId, ...registration });
      ex.json(201, created);
    });
  });

  app.get('/v1/webhooks', (res, req) => {
    const ex = new Exchange(res, req, 0);
    serve(ex, deps, async (principal) => {
      if (ex.query !== '') parseNoQuery(ex.query);
      ex.json(200, { data: await listWebhooks(deps.pool, principal.tenantId) });
    });
  });

  app.del('/v1/webhooks/:id', (res, req) => {
    const ex = new Exchange(res, req, 1);
    serve(ex, deps, async (principal) => {
      const id = webhookId(ex);
      if (!(await deleteWebhook(deps.pool, principal.tenantId, id))) throw new WebhookRequestError('not_found', 'No such webhook.');
      ex.noContent();
    });
  });

  app.get('/v1/webhooks/:id/deliveries', (res, req) => {
    const ex = new Exchange(res, req, 1);
    serve(ex, deps, async (principal) => {
      const id = webhookId(ex);
      const { limit, beforeId } = parseDeliveriesQuery(ex.query);
      if (!(await webhookExists(deps.pool, principal.tenantId, id))) throw new WebhookRequestError('not_found', 'No such webhook.');
      const page = await listDeliveryAttempts(deps.pool, id, limit, beforeId);
      ex.json(200, { data: page.data, next_cursor: page.nextBeforeId === null ? null : encodeCursor(page.nextBeforeId) });
    });
  });

  for (const [pattern, allow] of ALLOWED) app.any(pattern, (res) => sendMethodNotAllowed(res, allow));
  return { routes: WEBHOOK_ROUTES };
}

/** Every (method, pattern) registerWebhookRoutes adds. */
export const WEBHOOK_ROUTES: readonly { method: 'get' | 'post' | 'delete'; pattern: string }[] = [
  { method: 'post', pattern: '/v1/webhooks' },
  { method: 'get', pattern: '/v1/webhooks' },
  { method: 'delete', pattern: '/v1/webhooks/:id' },
  { method: 'get', pattern: '/v1/webhooks/:id/deliveries' },
];

const ALLOWED = new Map<string, string[]>();
for (const r of WEBHOOK_ROUTES) ALLOWED.set(r.pattern, [...(ALLOWED.get(r.pattern) ?? []), r.method.toUpperCase()].sort());

function parseNoQuery(query: string): void {
  const first = new URLSearchParams(query).keys().next();
  if (first.done !== true) throw new WebhookRequestError('invalid_query', `${first.value}: unknown parameter (this endpoint takes none)`);
}

function webhookId(ex: Exchange): string {
  const id = ex.params[0] ?? '';
  // Not a UUID cannot name a webhook: the same answer as an unknown one.
  if (!UUID.test(id)) throw new WebhookRequestError('not_found', 'No such webhook.');
  return id.toLowerCase();
}

function isRefusal(p: WebhookPrincipal | AuthRefusal): p is AuthRefusal {
  return 'code' in p;
}

/** Authenticates, requires the admin scope, runs `work`, and turns its refusals into replies. */
function serve(ex: Exchange, deps: WebhookRouteDeps, work: (principal: WebhookPrincipal) => Promise<void>): void {
  void (async () => {
    try {
      const principal = await deps.authenticate(ex.headers);
      if (isRefusal(principal)) {
        ex.error(principal.status, principal.code, principal.message ?? 'The request is not authenticated.');
        return;
      }
      if (!principal.scopes.includes(ADMIN_SCOPE)) throw new WebhookRequestError('forbidden', 'This API key lacks the admin scope.');
      await work(principal);
    } catch (err) {
      if (err instanceof WebhookRequestError) {
        ex.error(err.status, err.code, err.message);
      } else {
        deps.log.warn({ err: (err as Error).message }, 'webhook endpoint failed');
        const refusal = new WebhookRequestError('not_ready');
        ex.error(refusal.status, refusal.code, refusal.message);
      }
    }
  })();
}
