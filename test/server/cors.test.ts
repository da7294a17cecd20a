/**
 * CORS on the running receiver (src/server/cors.ts), seen at the HTTP level: what a browser
 * is told for an allowed origin, another origin, and when CORS_ORIGINS is empty. Node's
 * fetch sends `Origin` as given and enforces nothing, so every header is visible here; the
 * browser's own verdict is tested in test/sdk/browser-cors.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/index.js';
import { corsOriginList } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

const ALLOWED = 'http://app.example.test:5173';
const OTHER = 'http://evil.example.test';

function preflight(url: string, origin: string, method = 'POST', headers = 'content-type, x-machpay-agent, x-machpay-timestamp, x-machpay-signature'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });
}

describe('CORS_ORIGINS', () => {
  it('takes origins as browsers send them and refuses anything that could never match, naming the key', () => {
    expect(corsOriginList('')).toEqual([]);
    expect(corsOriginList(` ${ALLOWED} ,https://b.example.com,`)).toEqual([ALLOWED, 'https://b.example.com']);
    for (const bad of ['https://b.example.com/', 'https://B.example.com', 'https://b.example.com:443', 'b.example.com', '*', 'ftp://b.example.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/^CORS_ORIGINS: /);
    }
    expect(loadConfig({}).corsOrigins).toBe('');
  });
});

describe('a receiver with CORS_ORIGINS set', () => {
  let db: TestDatabase;
  let rx: RunningReceiver;

  beforeAll(async () => {
    db = await createTestDatabase('cors_rx');
    rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn', CORS_ORIGINS: `https://other.example.com,${ALLOWED}` });
  });
  afterAll(async () => {
    await rx?.stop();
    await db?.drop();
  });

  it('grants an allowed origin a preflight for the signed agent endpoint, with the signature headers and a max-age', async () => {
    const res = await preflight(`${rx.url}/v1/agent`, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toBe('POST');
    const allowedHeaders = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    for (const h of ['content-type', 'content-encoding', 'authorization', 'x-machpay-agent', 'x-machpay-timestamp', 'x-machpay-signature', 'ce-id', 'ce-time']) {
      expect(allowedHeaders).toContain(h);
    }
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('grants preflights on the read API, whose paths answer other methods with 405 themselves', async () => {
    const res = await preflight(`${rx.url}/v1/agent/metrics`, ALLOWED, 'GET', 'x-machpay-agent');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET');
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('answers a preflight from another origin, or for a method the path does not take, like any OPTIONS: 405 with Allow, no grant', async () => {
    const other = await preflight(`${rx.url}/v1/agent`, OTHER);
    expect(other.status).toBe(405);
    expect(other.headers.get('allow')).toBe('POST');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const wrongMethod = await preflight(`${rx.url}/v1/agent`, ALLOWED, 'DELETE');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongMethod.headers.get('access-control-allow-methods')).toBeNull();

    const unknown = await preflight(`${rx.url}/v1/nothing-here`, ALLOWED);
    expect(unknown.status).toBe(404);
  });

  it('lets an allowed page read every answer, Date and Retry-After included, and tells another origin nothing', async () => {
    // An unsigned POST: the 401 a page must be able to read (and its Date, for the clock offset).
    const refused = await fetch(`${rx.url}/v1/agent`, { method: 'POST', headers: { origin: ALLOWED, 'content-type': 'application/cloudevents-batch+json' }, body: '[]' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(refused.headers.get('vary')).toBe('Origin');
    expect(refused.headers.get('access-control-expose-headers')).toBe('Date, Retry-After');
    expect(refused.headers.get('date')).not.toBeNull();

    const wrongMethod = await fetch(`${rx.url}/v1/agent`, { method: 'PATCH', headers: { origin: ALLOWED } });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongMethod.headers.get('access-control-allow-origin')).toBe(ALLOWED);

    for (const path of ['/healthz', '/openapi.json', '/v1/nothing-here']) {
      const allowed = await fetch(rx.url + path, { headers: { origin: ALLOWED } });
      expect(allowed.headers.get('access-control-allow-origin'), path).toBe(ALLOWED);
      const other = await fetch(rx.url + path, { headers: { origin: OTHER } });
      expect(other.headers.get('access-control-allow-origin'), path).toBeNull();
      const serverSide = await fetch(rx.url + path);
      expect(serverSide.headers.get('access-control-allow-origin'), path).toBeNull();
    }
  });
});

describe('a receiver without CORS_ORIGINS', () => {
  let db: TestDatabase;
  let rx: RunningReceiver;

  beforeAll(async () => {
    db = await createTestDatabase('cors_off_rx');
    rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await rx?.stop();
    await db?.drop();
  });

  it('grants no origin anything: a preflight is 405 with Allow, and answers carry no CORS header', async () => {
    const res = await preflight(`${rx.url}/v1/agent`, ALLOWED);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const health = await fetch(`${rx.url}/healthz`, { headers: { origin: ALLOWED } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });
});
