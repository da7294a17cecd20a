import { pino } from 'pino';
import { Registry } from 'prom-client';
import uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enqueueWebhookEvent,
  registerWebhookMetrics,
  registerWebhookRoutes,
  WebhookDispatcher,
  webhookDispatcherConfig,
  type WebhookAuthenticator,
} from '../../src/webhooks/index.js';
import { eventually, openWebhookDatabase, type WebhookDatabase } from './fixtures/database.js';
import { FAST } from './fixtures/dispatcher.js';
import { startTarget, type Target } from './fixtures/target.js';

/** The admin endpoints over real HTTP (uWebSockets.js) and a real PostgreSQL. */

const KEYS: Record<string, { tenantId: string; scopes: string[] }> = {
  'admin-a': { tenantId: 'tenant-a', scopes: ['read', 'admin'] },
  'read-a': { tenantId: 'tenant-a', scopes: ['ingest', 'read'] },
  'admin-b': { tenantId: 'tenant-b', scopes: ['admin'] },
};

/** Stands in for the server's API-key authentication: `Bearer <name>` of KEYS. */
const authenticate: WebhookAuthenticator = async (headers) => {
  const key = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
  const principal = key === undefined ? undefined : KEYS[key];
  return principal ?? { status: 401, code: 'invalid_api_key', message: 'The API key is missing, unknown or revoked.' };
};

let wdb: WebhookDatabase;
let target: Target;
let base = '';
let strictBase = '';
const sockets: uWS.us_listen_socket[] = [];
const log = pino({ level: 'silent' });

beforeAll(async () => {
  wdb = await openWebhookDatabase('webhooks_routes');
  target = await startTarget(() => 200);
  const app = uWS.App();
  registerWebhookRoutes(app, { pool: wdb.pool, authenticate, allowPrivateUrls: true, log });
  // A second mount without the private-URL allowance, for the SSRF refusals.
  const strict = uWS.App();
  registerWebhookRoutes(strict, { pool: wdb.pool, authenticate, allowPrivateUrls: false, log });
  base = await listenOn(app);
  strictBase = await listenOn(strict);
});
afterAll(async () => {
  for (const s of sockets) uWS.us_listen_socket_close(s);
  await target.close();
  await wdb.close();
});

async function listenOn(app: uWS.TemplatedApp): Promise<string> {
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (socket === false) return reject(new Error('listen failed'));
      sockets.push(socket);
      resolve(`http://127.0.0.1:${uWS.us_socket_local_port(socket)}`);
    });
  });
}

async function call(method: string, path: string, key: string | null, body?: unknown, root = base) {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(root + path, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, text, json: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
}

describe('webhook endpoints', () => {
  it('registers with 201 and shows the secret once; the list never shows it', async () => {
    const created = await call('POST', '/v1/webhooks', 'admin-a', { url: target.url, event_types: ['alert.firing', 'alert.firing'], description: 'ops pager' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ url: target.url, event_types: ['alert.firing'], description: 'ops pager', disabled_at: null });
    expect(created.json!.id).toMatch(/^[0-9a-f-]{36}$/);
    const secret = created.json!.secret as string;
    expect(secret).toMatch(/^whsec_/);

    const list = await call('GET', '/v1/webhooks', 'admin-a');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toContain('secret');
    const data = list.json!.data as Record<string, unknown>[];
    expect(data.find((w) => w.id === created.json!.id)).toEqual({
      id: created.json!.id,
      url: target.url,
      event_types: ['alert.firing'],
      description: 'ops pager',
      disabled_at: null,
      disabled_reason: null,
      created_at: created.json!.created_at,
    });
    // Another tenant sees none of it.
    expect((await call('GET', '/v1/webhooks', 'admin-b')).json).toEqual({ data: [] });
  });

  it('requires the admin scope and passes the authenticator refusals on', async () => {
    expect(await call('GET', '/v1/webhooks', 'read-a')).toMatchObject({ status: 403, json: { error: { code: 'forbidden' } } });
    expect(await call('POST', '/v1/webhooks', 'read-a', { url: target.url, event_types: ['alert.firing'] })).toMatchObject({ status: 403 });
    expect(await call('GET', '/v1/webhooks', null)).toMatchObject({ status: 401, json: { error: { code: 'invalid_api_key' } } });
    expect(await call('GET', '/v1/webhooks', 'nobody')).toMatchObject({ status: 401 });
  });

  it('refuses invalid registrations with codes and the field named', async () => {
    const cases: [unknown, number, string, string][] = [
      ['{not json', 400, 'invalid_body', 'JSON'],
      [[], 400, 'invalid_body', 'object'],
      [{ url: target.url }, 400, 'invalid_body', 'event_types'],
      [{ url: target.url, event_types: ['alert.created'] }, 400, 'invalid_body', 'event_types'],
      [{ url: target.url, event_types: ['alert.firing'], description: 7 }, 400, 'invalid_body', 'description'],
      [{ url: target.url, event_types: ['alert.firing'], secret: 'whsec_x' }, 400, 'invalid_body', 'secret: unknown field'],
      [{ url: 'ftp://example.com/', event_types: ['alert.firing'] }, 400, 'invalid_webhook_url', 'scheme'],
      [{ event_types: ['alert.firing'] }, 400, 'invalid_webhook_url', 'url'],
    ];
    for (const [body, status, code, words] of cases) {
      const res = await call('POST', '/v1/webhooks', 'admin-a', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((res.json!.error as { code: string }).code).toBe(code);
      expect((res.json!.error as { message: string }).message).toContain(words);
    }
    const empty = await fetch(`${base}/v1/webhooks`, { method: 'POST', headers: { authorization: 'Bearer admin-a' } });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { code: 'invalid_body' } });
    const big = await call('POST', '/v1/webhooks', 'admin-a', { url: target.url, event_types: ['alert.firing'], description: 'x'.repeat(20_000) });
    expect(big).toMatchObject({ status: 413, json: { error: { code: 'body_too_large' } } });
    const form = await fetch(`${base}/v1/webhooks`, { method: 'POST', headers: { authorization: 'Bearer admin-a', 'content-type': 'text/plain' }, body: 'x' });
    expect(form.status).toBe(415);
    expect((await call('PUT', '/v1/webhooks', 'admin-a', {})).json).toMatchObject({ error: { code: 'method_not_allowed' } });
  });

  it('refuses private, loopback and link-local URLs (literal and resolved) unless private URLs are allowed', async () => {
    for (const url of [
      `http://127.0.0.1:${target.port}/`,
      'http://10.1.2.3/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      `http://localhost:${target.port}/`,
    ]) {
      const res = await call('POST', '/v1/webhooks', 'admin-a', { url, event_types: ['alert.firing'] }, strictBase);
      expect(res.status, url).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'invalid_webhook_url' } });
    }
    const allowed = await call('POST', '/v1/webhooks', 'admin-b', { url: `http://localhost:${target.port}/`, event_types: ['alert.firing'] });
    expect(allowed.status).toBe(201);
  });

  it('pages the delivery log newest first with an opaque cursor, and validates the query', async () => {
    const created = await call('POST', '/v1/webhooks', 'admin-a', { url: target.url, event_types: ['alert.firing', 'alert.resolved'] });
    const id = created.json!.id as string;
    const client = await wdb.pool.connect();
    const ids: string[] = [];
    try {
      await client.query('BEGIN');
      for (let i = 0; i < 7; i++) ids.push((await enqueueWebhookEvent(client, 'tenant-a', i % 2 ? 'alert.resolved' : 'alert.firing', { i })).messageId);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const dispatcher = new WebhookDispatcher({
      pool: wdb.pool,
      config: webhookDispatcherConfig({ ...FAST, concurrency: 1 }),
      log,
      metrics: registerWebhookMetrics(new Registry()),
    });
    dispatcher.start();
    try {
      // Other webhooks of tenant-a receive some of these too; this one's seven are what count.
      const sql = `SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'delivered'`;
      await eventually(async () => ((await wdb.pool.query(sql, [id])).rows[0].n === 7 ? true : undefined));
    } finally {
      await dispatcher.stop();
    }

    const pages: Record<string, unknown>[][] = [];
    let cursor: string | null = null;
    do {
      const res = await call('GET', `/v1/webhooks/${id}/deliveries?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`, 'admin-a');
      expect(res.status).toBe(200);
      pages.push(res.json!.data as Record<string, unknown>[]);
      cursor = res.json!.next_cursor as string | null;
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const rows = pages.flat();
    expect(rows.map((r) => r.message_id)).toEqual([...ids].reverse());
    for (const r of rows) {
      expect(r).toMatchObject({ webhook_id: id, attempt: 1, status: 'delivered', response_code: 200, next_attempt_at: null });
      expect(r.event_type).toMatch(/^alert\.(firing|resolved)$/);
      expect(new Date(r.attempted_at as string).toISOString()).toBe(r.attempted_at);
    }
    const all = await call('GET', `/v1/webhooks/${id}/deliveries`, 'admin-a');
    expect((all.json!.data as unknown[]).length).toBe(7);
    expect(all.json!.next_cursor).toBeNull();

    const badQueries: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['cursor=bogus', 'cursor'],
      ['limt=5', 'limt'],
    ];
    for (const [query, param] of badQueries) {
      const res = await call('GET', `/v1/webhooks/${id}/deliveries?${query}`, 'admin-a');
      expect(res.status, query).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'invalid_query' } });
      expect((res.json!.error as { message: string }).message.startsWith(param)).toBe(true);
    }
    expect((await call('GET', `/v1/webhooks/${id}/deliveries?limit=500`, 'admin-a')).status).toBe(200);
    // Another tenant's webhook is not found, as is a malformed id.
    expect(await call('GET', `/v1/webhooks/${id}/deliveries`, 'admin-b')).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    expect((await call('GET', '/v1/webhooks/not-a-uuid/deliveries', 'admin-a')).status).toBe(404);
  });

  it('deletes with 204: gone from the list, its log and pending deliveries end, another tenant cannot delete it', async () => {
    const created = await call('POST', '/v1/webhooks', 'admin-a', { url: 'http://127.0.0.1:9/never', event_types: ['alert.firing'] });
    const id = created.json!.id as string;
    const client = await wdb.pool.connect();
    let messageId = '';
    try {
      messageId = (await enqueueWebhookEvent(client, 'tenant-a', 'alert.firing', { pending: true })).messageId;
    } finally {
      client.release();
    }
    expect((await call('DELETE', `/v1/webhooks/${id}`, 'admin-b')).status).toBe(404);
    const del = await call('DELETE', `/v1/webhooks/${id}`, 'admin-a');
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call('DELETE', `/v1/webhooks/${id}`, 'admin-a')).status).toBe(404);
    const list = (await call('GET', '/v1/webhooks', 'admin-a')).json!.data as { id: string }[];
    expect(list.map((w) => w.id)).not.toContain(id);
    expect((await call('GET', `/v1/webhooks/${id}/deliveries`, 'admin-a')).status).toBe(404);
    const { rows } = await wdb.pool.query('SELECT state FROM webhook_deliveries WHERE message_id = $1 AND webhook_id = $2', [messageId, id]);
    expect(rows).toEqual([{ state: 'disabled' }]);
  });
});
