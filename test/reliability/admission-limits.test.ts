import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/api-keys/index.js';
import { apiKeyText, bearer, encodeJsonBatch, gatewayEvent, interactionEvent, MEDIA_TYPES, newAgent, signAgentRequest, type TestAgent } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { closeClientAgents, postFrom, type Answer } from './admission-clients.js';

/**
 * docs/protocol.md §6 (v1.1): an agent's or a key's limit is charged only by requests that
 * authenticated; requests that fail authentication are limited per client address; limits
 * follow a monotonic clock; /v1/ingest needs a key with the `ingest` scope.
 */

const CLOCK_STEP = fileURLToPath(new URL('../server/fixtures/wall-clock-step.mjs', import.meta.url));

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('admission_limits');
  rx = await startReceiver({
    DATABASE_URL: db.url,
    WORKERS: '1',
    LOG_LEVEL: 'warn',
    // Small buckets, so that a few stolen tokens would show.
    AGENT_RATE_LIMIT: '5',
    AGENT_RATE_BURST: '10',
    API_KEY_RATE_LIMIT: '5',
    API_KEY_RATE_BURST: '10',
    AUTH_FAILURE_RATE_LIMIT: '10',
    AUTH_FAILURE_RATE_BURST: '100',
    // SIGUSR2 steps the receiver's wall clock back by two minutes (inside the 300 s signature window).
    NODE_OPTIONS: `--import=${new URL(`file://${CLOCK_STEP}`).href}`,
    WALL_CLOCK_STEP_MS: '120000',
  });
}, 60_000);

afterAll(async () => {
  closeClientAgents();
  await rx?.stop();
  await db?.drop();
});

async function newKey(tenant: string, scopes: string[]): Promise<string> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { record, key } = await createApiKey(client, { tenantId: tenant, name: `scopes ${scopes.join(' ')}`, test: true });
    await client.query('UPDATE api_keys SET scopes = $1 WHERE id = $2', [scopes, record.id]);
    return key;
  } finally {
    await client.end();
  }
}

function sendAgent(from: string, agent: TestAgent): Promise<Answer> {
  const body = encodeJsonBatch([interactionEvent(agent.agentId)]);
  return postFrom(from, rx.url, '/v1/agent', { 'content-type': MEDIA_TYPES.jsonBatch, ...signAgentRequest(agent, body, { signer: 'node' }) }, body);
}

function sendGateway(from: string, key: string): Promise<Answer> {
  const body = encodeJsonBatch([gatewayEvent()]);
  return postFrom(from, rx.url, '/v1/ingest', { 'content-type': MEDIA_TYPES.jsonBatch, ...bearer(key) }, body);
}

function errorCode(a: Answer): string {
  try {
    return (JSON.parse(a.text) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limits charged after authentication', () => {
  it("a bad-signature flood naming an agent leaves the agent's own signed requests passing, and is itself limited per address", async () => {
    const victim = newAgent();
    const floodFrom = '127.0.0.2';
    const until = Date.now() + 3000;
    const flood: Record<string, number> = {};
    let floodRetryAfter = 0;
    const forge = async (): Promise<void> => {
      while (Date.now() < until) {
        // The victim's public key, a fresh timestamp, a signature of random bytes.
        const body = encodeJsonBatch([interactionEvent(victim.agentId)]);
        const headers = {
          'content-type': MEDIA_TYPES.jsonBatch,
          'x-machpay-agent': victim.agentId,
          'x-machpay-timestamp': String(Date.now()),
          'x-machpay-signature': randomBytes(64).toString('base64'),
        };
        const a = await postFrom(floodFrom, rx.url, '/v1/agent', headers, body);
        const key = `${a.status} ${errorCode(a)}`;
        flood[key] = (flood[key] ?? 0) + 1;
        if (a.status === 429) floodRetryAfter = Number(a.headers['retry-after']);
      }
    };
    const own: Answer[] = [];
    const victimSends = async (): Promise<void> => {
      await sleep(300);
      // 2.5 requests per second, under the agent's 5 per second.
      while (Date.now() < until) {
        own.push(await sendAgent('127.0.0.1', victim));
        await sleep(400);
      }
    };
    await Promise.all([forge(), forge(), forge(), forge(), victimSends()]);
    console.info(`bad-signature flood: ${JSON.stringify(flood)}; the agent's own: ${JSON.stringify(own.map((a) => a.status))}`);

    expect(flood['401 bad_signature'] ?? 0, 'the flood was verified and refused').toBeGreaterThan(0);
    expect(own.length).toBeGreaterThanOrEqual(3);
    expect(own.map((a) => `${a.status} ${errorCode(a)}`).filter((s) => !s.startsWith('202'))).toEqual([]);
    // Past its allowance of 401s, the flooding address is refused before any work.
    expect(flood['429 rate_limited'] ?? 0).toBeGreaterThan(0);
    expect(floodRetryAfter).toBeGreaterThanOrEqual(1);
    expect(Object.keys(flood).filter((k) => k !== '401 bad_signature' && k !== '429 rate_limited')).toEqual([]);
  }, 30_000);

  it('unknown API keys are limited per address; a valid key from another address is not', async () => {
    const key = await newKey('tenant-limits', ['ingest']);
    const seen: Record<string, number> = {};
    for (let i = 0; i < 150 && (seen['429 rate_limited'] ?? 0) === 0; i++) {
      const a = await sendGateway('127.0.0.3', apiKeyText());
      const k = `${a.status} ${errorCode(a)}`;
      seen[k] = (seen[k] ?? 0) + 1;
    }
    expect(seen['401 invalid_api_key'] ?? 0).toBeGreaterThan(0);
    expect(seen['429 rate_limited'] ?? 0, JSON.stringify(seen)).toBe(1);
    expect((await sendGateway('127.0.0.1', key)).status).toBe(202);
  }, 30_000);
});

describe('the limiter clock', () => {
  it('a backward step of the wall clock does not lock out active agents and keys', async () => {
    const agent = newAgent();
    const key = await newKey('tenant-clock', ['ingest']);
    const statuses: string[] = [];
    const round = async (): Promise<void> => {
      for (const a of await Promise.all([sendAgent('127.0.0.1', agent), sendGateway('127.0.0.1', key)])) statuses.push(`${a.status} ${errorCode(a)}`);
    };
    // Active: two requests per second each, under the five per second allowed.
    for (let i = 0; i < 4; i++) {
      await round();
      await sleep(500);
    }
    expect(rx.process.kill('SIGUSR2')).toBe(true);
    await sleep(100);
    for (let i = 0; i < 6; i++) {
      await round();
      await sleep(500);
    }
    expect(statuses.filter((s) => !s.startsWith('202')), JSON.stringify(statuses)).toEqual([]);
  }, 30_000);
});

describe('API key scopes', () => {
  it('a key without the ingest scope gets 403 forbidden on /v1/ingest, and nothing is stored', async () => {
    const readOnly = await newKey('tenant-scopes', ['read']);
    const a = await sendGateway('127.0.0.1', readOnly);
    expect(a.status).toBe(403);
    expect(errorCode(a)).toBe('forbidden');
    const rows = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM gateway_telemetry WHERE tenant_id = 'tenant-scopes'");
    expect(rows[0]?.n).toBe(0);
    expect((await sendGateway('127.0.0.1', await newKey('tenant-scopes', ['read', 'ingest']))).status).toBe(202);
  }, 30_000);
});
