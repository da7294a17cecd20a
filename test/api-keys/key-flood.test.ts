import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCache, createApiKey, KeyLookupBusyError } from '../../src/api-keys/index.js';
import { createLogger } from '../../src/logger.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

/**
 * A flood of random well-formed API keys: the pool the COPYs share sees no query, the cache's
 * own pool never runs more lookups at once than the gate allows, the same unknown key costs
 * one query however many requests present it, and memory for unknown keys stays bounded.
 */

interface Counted {
  queries: number;
  running: number;
  maxRunning: number;
}

/** Counts the queries a real pool runs (and how many at once) by wrapping its query method. */
function counted(pool: pg.Pool): Counted {
  const c: Counted = { queries: 0, running: 0, maxRunning: 0 };
  const original = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
    c.queries++;
    c.running++;
    c.maxRunning = Math.max(c.maxRunning, c.running);
    try {
      return await original(...args);
    } finally {
      c.running--;
    }
  };
  return c;
}

const randomKey = (): string => `mpk_test_${randomBytes(32).toString('base64url')}`;

let m: MigratedDatabase;
let keyPool: pg.Pool;
let validKey: string;

beforeAll(async () => {
  m = await createMigratedDatabase('api_key_flood');
  keyPool = new pg.Pool({ connectionString: m.db.url, max: 2 });
  const client = await m.pool.connect();
  try {
    validKey = (await createApiKey(client, { tenantId: 'flood', name: 'valid', test: true })).key;
  } finally {
    client.release();
  }
});

afterAll(async () => {
  await keyPool?.end();
  await m?.close();
});

describe('API key flood', () => {
  it('costs the COPY pool nothing and the lookup pool a bounded number of queries at a time', async () => {
    const copy = counted(m.pool);
    const lookups = counted(keyPool);
    const cache = new ApiKeyCache(keyPool, m.db.url, 60_000, createLogger('silent'), { concurrentLookups: 2, maxWaitingLookups: 300, maxUnknown: 500 });

    expect(await cache.resolve(`Bearer ${validKey}`)).toMatchObject({ tenantId: 'flood' });
    const afterValid = lookups.queries;

    // The same unknown key from 200 requests at once: one query, then the negative cache.
    const repeated = randomKey();
    const same = await Promise.all(Array.from({ length: 200 }, () => cache.resolve(`Bearer ${repeated}`)));
    expect(same.every((k) => k === null)).toBe(true);
    expect(lookups.queries - afterValid, 'queries for one key presented 200 times').toBe(1);
    expect(cache.resolve(`Bearer ${repeated}`), 'answered from the negative cache, synchronously').toBeNull();

    // 3000 distinct random keys at once.
    const outcomes = await Promise.all(
      Array.from({ length: 3000 }, async () => {
        try {
          return (await cache.resolve(`Bearer ${randomKey()}`)) === null ? 'unknown' : 'found';
        } catch (err) {
          return err instanceof KeyLookupBusyError ? 'busy' : `error ${(err as Error).message}`;
        }
      }),
    );
    const tally = new Map<string, number>();
    for (const o of outcomes) tally.set(o, (tally.get(o) ?? 0) + 1);
    console.log(`flood of 3000 keys: ${JSON.stringify(Object.fromEntries(tally))}; ${lookups.queries} lookup queries, at most ${lookups.maxRunning} at once`);

    expect(copy.queries, 'queries on the COPY pool').toBe(0);
    expect(lookups.maxRunning, 'lookups at once').toBeLessThanOrEqual(2);
    // Two running and 300 waiting at most: the rest are refused at once, without a query.
    expect(tally.get('busy') ?? 0).toBeGreaterThanOrEqual(3000 - 302);
    expect((tally.get('unknown') ?? 0) + (tally.get('busy') ?? 0)).toBe(3000);
    expect(lookups.queries - afterValid - 1, 'queries for the flood').toBe(tally.get('unknown'));
    expect(cache.unknownCached, 'unknown keys remembered').toBeLessThanOrEqual(500);

    // The valid key is still cached: no query, no wait behind the flood.
    const before = lookups.queries;
    expect(cache.resolve(`Bearer ${validKey}`)).toMatchObject({ tenantId: 'flood' });
    expect(lookups.queries).toBe(before);
    await cache.stop();
    expect(copy.queries, 'queries on the COPY pool, usage flush included').toBe(0);
  });
});
