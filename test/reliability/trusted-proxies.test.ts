import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressRanges, parseIpAddress } from '../../src/net/index.js';
import { bearer, encodeJsonBatch, gatewayEvent, MEDIA_TYPES } from '../helpers/agent.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { closeClientAgents, postFrom } from './admission-clients.js';

/**
 * TRUSTED_PROXIES: behind a load balancer, the per-address limits count the client named by
 * X-Forwarded-For, not the balancer; from any other peer X-Forwarded-For is ignored, so a
 * client cannot escape its limit by writing the header itself.
 */

const BALANCER = '127.0.0.2';
const OTHER_PEER = '127.0.0.3';
const BURST = 5;

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('trusted_proxies');
  rx = await startReceiver({
    DATABASE_URL: db.url,
    WORKERS: '1',
    LOG_LEVEL: 'warn',
    TRUSTED_PROXIES: `${BALANCER}/32, 10.0.0.0/8`,
    AUTH_FAILURE_RATE_LIMIT: '1',
    AUTH_FAILURE_RATE_BURST: String(BURST),
  });
}, 60_000);

afterAll(async () => {
  closeClientAgents();
  await rx?.stop();
  await db?.drop();
});

/** A request with a well-formed unknown key (a 401) from `peer`, with `forwardedFor` if given. */
async function badKey(peer: string, forwardedFor?: string): Promise<number> {
  const body = encodeJsonBatch([gatewayEvent()]);
  const headers: Record<string, string> = { 'content-type': MEDIA_TYPES.jsonBatch, ...bearer(`mpk_test_${randomBytes(32).toString('base64url')}`) };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  return (await postFrom(peer, rx.url, '/v1/ingest', headers, body)).status;
}

/**
 * Spends a client's 401 allowance: 2 × BURST requests at once, so that those admitted
 * together overdraw the bucket (down to -BURST: several seconds at 1 token/s before the next
 * 401 is allowed, however slow the machine), then one more, which must be refused.
 */
async function exhaust(peer: string, forwardedFor?: string): Promise<{ first: number[]; then: number }> {
  const first = await Promise.all(Array.from({ length: 2 * BURST }, () => badKey(peer, forwardedFor)));
  return { first: first.sort(), then: await badKey(peer, forwardedFor) };
}

/** At least BURST requests were answered 401 (the allowance), the rest 429, and the next one 429. */
function expectExhausted(r: { first: number[]; then: number }): void {
  expect(r.first.filter((s) => s === 401).length).toBeGreaterThanOrEqual(BURST);
  expect(r.first.every((s) => s === 401 || s === 429), r.first.join(' ')).toBe(true);
  expect(r.then).toBe(429);
}

describe('address ranges', () => {
  it('parses addresses and blocks, and matches IPv4-mapped peers', () => {
    const ranges = new AddressRanges('10.0.0.0/8, 192.168.1.7, fd00::/8, ::ffff:172.16.0.0/108');
    const at = (s: string) => ranges.contains(parseIpAddress(s) as Uint8Array);
    expect(at('10.200.3.4')).toBe(true);
    expect(at('::ffff:10.1.2.3')).toBe(true);
    expect(at('11.0.0.1')).toBe(false);
    expect(at('192.168.1.7')).toBe(true);
    expect(at('192.168.1.8')).toBe(false);
    expect(at('fd12:3456::1')).toBe(true);
    expect(at('fe80::1')).toBe(false);
    expect(at('172.16.9.9')).toBe(true);
    expect(at('172.32.0.1')).toBe(false);
    expect(parseIpAddress('[2001:db8::1]:443')).toEqual(parseIpAddress('2001:db8:0:0:0:0:0:1'));
    expect(parseIpAddress('1.2.3.4:80')).toEqual(new Uint8Array([1, 2, 3, 4]));
    for (const bad of ['', 'unknown', '1.2.3', '256.1.1.1', '1::2::3', '2001:db8::g', '1:2:3:4:5:6:7:8:9']) expect(parseIpAddress(bad), bad).toBeNull();
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/x', 'fd00::/129']) expect(() => new AddressRanges(bad), bad).toThrow();
  });
});

describe('TRUSTED_PROXIES', () => {
  it('behind a trusted balancer, each forwarded client has its own 401 allowance', async () => {
    expectExhausted(await exhaust(BALANCER, '203.0.113.7'));
    // Another client behind the same balancer is not limited by the first one.
    expect(await badKey(BALANCER, '203.0.113.8')).toBe(401);
    // What the client wrote left of the address the balancer appended proves nothing.
    expect(await badKey(BALANCER, '203.0.113.8, 203.0.113.7')).toBe(429);
    expect(await badKey(BALANCER, '203.0.113.7, 203.0.113.9')).toBe(401);
    // A chain of trusted proxies: the right-most address that is not one is the client.
    expect(await badKey(BALANCER, '203.0.113.7, 10.1.2.3')).toBe(429);
    // IPv6 clients count by /64.
    expectExhausted(await exhaust(BALANCER, '2001:db8:0:1::1'));
    expect(await badKey(BALANCER, '2001:db8:0:1::ffff')).toBe(429);
    expect(await badKey(BALANCER, '2001:db8:0:2::1')).toBe(401);
    // Without the header, the balancer itself is the client.
    expect(await badKey(BALANCER)).toBe(401);
  });

  it('from a peer that is not trusted, X-Forwarded-For is ignored', async () => {
    expectExhausted(await exhaust(OTHER_PEER, '198.51.100.1'));
    expect(await badKey(OTHER_PEER, '198.51.100.2'), 'a new forged address does not reset the limit').toBe(429);
    expect(await badKey(OTHER_PEER)).toBe(429);
  });

  it('refuses a list entry that is not an address or a block, naming the key', async () => {
    await expect(startReceiver({ DATABASE_URL: db.url, TRUSTED_PROXIES: '10.0.0.0/8, lb.internal' }, { readyTimeoutMs: 20_000 })).rejects.toThrow(/TRUSTED_PROXIES/);
  });
});
