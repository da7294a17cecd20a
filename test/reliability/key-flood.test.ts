import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, encodeJsonBatch, gatewayEvent, MEDIA_TYPES } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { closeClientAgents, postFrom } from './admission-clients.js';

/**
 * A flood of random well-formed API keys on a running receiver, from many client addresses
 * (behind a trusted balancer, so that the per-address 401 limit does not stop it): key
 * lookups run on the receiver's own two key connections, never on the pool the COPYs share,
 * as PostgreSQL's pg_stat_activity shows (the backends whose last query was a key lookup).
 */

const LOOKUP_SQL = 'FROM api_keys WHERE key_hash = $1';

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('key_flood');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn', TRUSTED_PROXIES: '127.0.0.1', PG_POOL_SIZE: '4' });
}, 60_000);

afterAll(async () => {
  closeClientAgents();
  await rx?.stop();
  await db?.drop();
});

describe('API key flood on a running receiver', () => {
  it('looks keys up on two connections at most, whatever the number of keys and clients', async () => {
    const lookupBackends = new Set<number>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rows = await query<{ pid: number }>(db.url, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`, [LOOKUP_SQL]);
        for (const r of rows) lookupBackends.add(r.pid);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const body = encodeJsonBatch([gatewayEvent()]);
    const statuses = new Map<number, number>();
    let next = 0;
    const total = 1500;
    const client = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const headers = { 'content-type': MEDIA_TYPES.jsonBatch, ...bearer(`mpk_test_${randomBytes(32).toString('base64url')}`), 'x-forwarded-for': `198.18.${i >> 8}.${i & 255}` };
        const a = await postFrom('127.0.0.1', rx.url, '/v1/ingest', headers, body);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      }
    };
    try {
      await Promise.all(Array.from({ length: 48 }, client));
    } finally {
      sampling = false;
      await sampler;
    }
    console.log(`key flood: ${JSON.stringify(Object.fromEntries(statuses))}; key lookups seen on ${lookupBackends.size} backends`);
    expect([...statuses.keys()].every((s) => s === 401 || s === 429), JSON.stringify(Object.fromEntries(statuses))).toBe(true);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    expect(lookupBackends.size, 'connections that ran a key lookup').toBeGreaterThan(0);
    expect(lookupBackends.size, 'connections that ran a key lookup').toBeLessThanOrEqual(2);
  }, 60_000);
});
