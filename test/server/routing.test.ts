/**
 * The running receiver's routing (docs/read-api.md §8, docs/protocol.md §6): GET
 * /openapi.json serves docs/openapi.json as it is in the repository; every documented path
 * is registered with exactly its documented methods (a method no route takes gets 405 with
 * `Allow` naming them); a path no route takes gets 404.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

const docText = await readFile(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
const doc = JSON.parse(docText) as { paths: Record<string, Record<string, unknown>> };
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

describe('a running receiver', () => {
  let db: TestDatabase;
  let rx: RunningReceiver;

  beforeAll(async () => {
    db = await createTestDatabase('routes_rx');
    rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await rx?.stop();
    await db?.drop();
  });

  it('serves docs/openapi.json as it is in the repository', async () => {
    const res = await fetch(`${rx.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe(docText);
  });

  it('answers every documented path, and 405 with exactly its documented methods in Allow to any other', async () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const methods = Object.keys(item)
        .filter((m) => HTTP_METHODS.includes(m))
        .map((m) => m.toUpperCase())
        .sort();
      const concrete = path.replace(/\{[^}]+\}/g, 'x');
      const res = await fetch(rx.url + concrete, { method: 'PATCH' });
      expect(res.status, `PATCH ${concrete}`).toBe(405);
      expect(res.headers.get('allow'), `Allow of ${path}`).toBe(methods.join(', '));
      expect(await res.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
    }
  });

  it('answers 404 not_found to a path no route takes, whatever the method', async () => {
    for (const method of ['GET', 'POST', 'PATCH']) {
      const res = await fetch(`${rx.url}/v1/nothing-here`, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get('allow')).toBeNull();
      expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
  });
});
