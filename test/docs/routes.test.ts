/**
 * docs/openapi.json documents every route the receiver registers, and the receiver registers
 * every route it documents (docs/read-api.md §8):
 * the components' registration functions, called as the receiver calls them, register
 * exactly the documented (method, path) pairs, apart from the console's static page.
 * test/server/routing.test.ts checks the running receiver registers each documented path.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAlertRoutes } from '../../src/alerts/index.js';
import { registerConsoleRoutes } from '../../src/console/index.js';
import { registerReadRoutes } from '../../src/read/index.js';
import { httpMethod, SERVER_ROUTES, type RegisteredRoute } from '../../src/server/index.js';
import { registerStreamRoutes, type StreamRoutes } from '../../src/stream/index.js';
import { registerWebhookRoutes } from '../../src/webhooks/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const DOC_FILE = new URL('../../docs/openapi.json', import.meta.url);
const doc = JSON.parse(await readFile(DOC_FILE, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
/** The console as `npm run build` writes it (the running receiver serves the same files). */
const BUILT_CONSOLE = fileURLToPath(new URL('../../dist/console/', import.meta.url));
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/**
 * The console is a web page (HTML, scripts, styles under `/console/`), not an API operation:
 * docs/console.md describes it, and OpenAPI cannot name a path of any depth under a prefix.
 */
const UNDOCUMENTED_PREFIXES = ['/console'];

/** `/v1/agents/:agent_id/link` → `/v1/agents/{agent_id}/link`, the OpenAPI spelling. */
function openApiPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z_]+)/g, '{$1}');
}

function documented(): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item)) if (HTTP_METHODS.includes(method)) out.add(`${method.toUpperCase()} ${path}`);
  }
  return out;
}

function pairs(routes: readonly RegisteredRoute[]): Set<string> {
  return new Set(
    routes.filter((r) => !UNDOCUMENTED_PREFIXES.some((p) => r.pattern === p || r.pattern.startsWith(`${p}/`))).map((r) => `${httpMethod(r.method)} ${openApiPath(r.pattern)}`),
  );
}

describe('registered routes and docs/openapi.json', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let stream: StreamRoutes | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('routes_doc');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await stream?.close();
    await pool?.end();
    await db?.drop();
  });

  it('the components register exactly the documented operations', () => {
    const app = uWS.App();
    const log = pino({ level: 'silent' });
    const denyAll = async () => ({ status: 401, code: 'invalid_api_key' });
    stream = registerStreamRoutes(app, { pool, log, secret: Buffer.alloc(32, 1), listen: false });
    const routes = [
      ...SERVER_ROUTES,
      ...registerReadRoutes(app, { pool, log }).routes,
      ...registerWebhookRoutes(app, { pool, log, authenticate: denyAll, allowPrivateUrls: false }).routes,
      ...registerAlertRoutes(app, { pool, log }).routes,
      ...stream.routes,
      ...registerConsoleRoutes(app, { dir: BUILT_CONSOLE }).routes,
    ];
    const registered = pairs(routes);
    const docs = documented();
    expect([...registered].filter((r) => !docs.has(r)), 'registered but not documented').toEqual([]);
    expect([...docs].filter((d) => !registered.has(d)), 'documented but not registered').toEqual([]);
  });
});
