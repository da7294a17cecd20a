/**
 * Proves the test infrastructure is real: the PostgreSQL and ClickHouse that
 * test/setup/global-services.ts starts answer, keep data, and are isolated per file; and
 * the agent helpers sign exactly what docs/protocol.md §3 says, checked with node:crypto.
 */
import { verify, createPublicKey } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import nacl from 'tweetnacl';
import { base58Decode } from '../../src/protocol/index.js';
import {
  apiKeyText,
  bearer,
  EVENT_TYPES,
  gatewayEvent,
  interactionEvent,
  newAgent,
  signAgentRequest,
  signedBytes,
  telemetryEvent,
  verifyWithNodeCrypto,
  encodeJsonBatch,
} from '../helpers/agent.js';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { withClient } from '../../src/database/index.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';

describe('PostgreSQL from the global setup', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('infra_services');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is a real server', async () => {
    const [row] = await query<{ version: string }>(inject('pgUrl'), 'select version()');
    expect(row?.version).toMatch(/^PostgreSQL \d+/);
  });

  // A developer's own server (TEST_PG_URL) has its own settings.
  it.skipIf(process.env.TEST_PG_URL)('was started with test-suitable settings', async () => {
    const settings = await query<{ name: string; setting: string }>(
      db.url,
      `select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'max_connections', 'TimeZone')`,
    );
    const byName = Object.fromEntries(settings.map((s) => [s.name, s.setting]));
    expect(byName.fsync).toBe('on'); // durability tests rely on real flushes
    expect(byName.synchronous_commit).toBe('on');
    expect(Number(byName.max_connections)).toBeGreaterThanOrEqual(200);
    expect(byName.TimeZone).toBe('UTC');
  });

  it('gives each file its own database that keeps what is written', async () => {
    const [current] = await query<{ db: string }>(db.url, 'select current_database() as db');
    expect(current?.db).toBe(db.name);
    await withClient(db.url, async (c) => {
      await c.query('create table t (id bigint primary key, note text not null)');
      await c.query('insert into t values ($1, $2), ($3, $4)', ['9007199254740993', 'big', 1, 'one']);
    });
    const rows = await query<{ id: string; note: string }>(db.url, 'select id::text, note from t order by id');
    expect(rows).toEqual([
      { id: '1', note: 'one' },
      { id: '9007199254740993', note: 'big' },
    ]);
  });

  it('drops a database even while connections to it are open', async () => {
    const other = await createTestDatabase('infra_drop');
    const leaked = await withClient(other.url, async () => 'checked');
    expect(leaked).toBe('checked');
    const { default: pg } = await import('pg');
    const held = new pg.Client({ connectionString: other.url });
    held.on('error', () => {}); // terminated by the drop, as intended
    await held.connect();
    await other.drop();
    const exists = await query(inject('pgUrl'), 'select 1 from pg_database where datname = $1', [other.name]);
    expect(exists).toEqual([]);
    await held.end().catch(() => {});
  });
});

describe('ClickHouse from the global setup', () => {
  let ch: TestClickhouseDatabase;
  beforeAll(async () => {
    ch = await createTestClickhouseDatabase('infra_services');
  });
  afterAll(async () => {
    await ch?.drop();
  });

  it('answers ping and reports its version', async () => {
    expect((await ch.client.ping()).success).toBe(true);
    const res = await fetch(`${inject('clickhouseUrl')}/?query=${encodeURIComponent('SELECT version()')}`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toMatch(/^\d+\.\d+/);
  });

  it('creates a MergeTree table, inserts JSONEachRow and reads it back', async () => {
    await ch.client.command({
      query: `CREATE TABLE interactions (
        time DateTime('UTC'),
        agent_id String,
        nonce Int64,
        amount_atomic UInt64,
        success UInt8
      ) ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (agent_id, time, nonce)`,
    });
    await ch.client.insert({
      table: 'interactions',
      format: 'JSONEachRow',
      values: [
        { time: '2025-01-31 12:00:00', agent_id: 'a1', nonce: '9007199254740993', amount_atomic: 1000, success: 1 },
        { time: '2025-01-31 12:00:01', agent_id: 'a1', nonce: 2, amount_atomic: 2500, success: 0 },
      ],
    });
    const result = await ch.client.query({ query: 'SELECT agent_id, nonce, amount_atomic FROM interactions ORDER BY nonce', format: 'JSONEachRow' });
    // 64-bit integers come back as strings in JSON formats (output_format_json_quote_64bit_integers).
    expect(await result.json()).toEqual([
      { agent_id: 'a1', nonce: '2', amount_atomic: '2500' },
      { agent_id: 'a1', nonce: '9007199254740993', amount_atomic: '1000' },
    ]);
    const sum = await ch.client.query({ query: 'SELECT sum(amount_atomic) AS total FROM interactions', format: 'JSONEachRow' });
    expect(await sum.json()).toEqual([{ total: '3500' }]);
  });

  it('keeps files apart: the table is in this file’s database only', async () => {
    const res = await ch.client.query({
      query: `SELECT database FROM system.tables WHERE name = 'interactions' AND database = '${ch.database}'`,
      format: 'JSONEachRow',
    });
    expect(await res.json()).toEqual([{ database: ch.database }]);
    expect(ch.url).toBe(`${inject('clickhouseUrl')}/${ch.database}`);
  });
});

describe('agent helpers (docs/protocol.md §3, §5)', () => {
  const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

  it('makes agents whose id is the base58 of the public key', () => {
    const agent = newAgent();
    expect(agent.publicKey).toHaveLength(32);
    expect(agent.secretKey).toHaveLength(64);
    expect(base58Decode(agent.agentId, 32)).toEqual(agent.publicKey);
  });

  it('signs machpay-v1\\n{ts}\\n{path}\\n + body, verifiable with node:crypto', () => {
    const agent = newAgent();
    const body = encodeJsonBatch([interactionEvent(agent.agentId)]);
    const headers = signAgentRequest(agent, body, { timestampMs: 1_738_000_000_123, path: '/v1/agent' });
    expect(headers['x-machpay-agent']).toBe(agent.agentId);
    expect(headers['x-machpay-timestamp']).toBe('1738000000123');
    expect(headers['x-machpay-signature']).toMatch(/^[A-Za-z0-9+/]{86}==$/); // 64 bytes, standard base64, padded

    const message = Buffer.concat([Buffer.from('machpay-v1\n1738000000123\n/v1/agent\n', 'ascii'), body]);
    expect(Buffer.from(signedBytes('1738000000123', '/v1/agent', body))).toEqual(message);
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, agent.publicKey]), format: 'der', type: 'spki' });
    const signature = Buffer.from(headers['x-machpay-signature'], 'base64');
    expect(verify(null, message, key, signature)).toBe(true);
    expect(verifyWithNodeCrypto(agent.publicKey, headers, body)).toBe(true);

    // Any change to the body, the path or the timestamp breaks it.
    const tampered = Uint8Array.from(body);
    tampered[tampered.length - 2] = (tampered[tampered.length - 2] ?? 0) ^ 1;
    expect(verify(null, Buffer.concat([message.subarray(0, message.length - body.length), tampered]), key, signature)).toBe(false);
    expect(verifyWithNodeCrypto(agent.publicKey, headers, body, '/v1/ingest')).toBe(false);
    expect(verifyWithNodeCrypto(agent.publicKey, { ...headers, 'x-machpay-timestamp': '1738000000124' }, body)).toBe(false);
  });

  it('tweetnacl and node:crypto produce the same signature (Ed25519 is deterministic)', () => {
    const agent = newAgent(new Uint8Array(32).fill(7));
    const body = new TextEncoder().encode('[]');
    const a = signAgentRequest(agent, body, { timestampMs: 1, signer: 'tweetnacl' });
    const b = signAgentRequest(agent, body, { timestampMs: 1, signer: 'node' });
    expect(b).toEqual(a);
    expect(nacl.sign.detached.verify(signedBytes('1', '/v1/agent', body), Buffer.from(a['x-machpay-signature'], 'base64'), agent.publicKey)).toBe(true);
  });

  it('builds valid, distinct CloudEvents of the three types', () => {
    const agent = newAgent();
    const events = [interactionEvent(agent.agentId), interactionEvent(agent.agentId), telemetryEvent(agent.agentId), telemetryEvent(agent.agentId), gatewayEvent()];
    for (const e of events) {
      expect(e.specversion).toBe('1.0');
      expect(e.id.length).toBeGreaterThan(0);
      expect(e.id.length).toBeLessThanOrEqual(128);
      expect(e.source.length).toBeGreaterThan(0);
      expect(e.source.length).toBeLessThanOrEqual(256);
      expect(e.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      expect(Math.abs(Date.parse(e.time) - Date.now())).toBeLessThan(5_000);
      expect(typeof e.data).toBe('object');
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.map((e) => e.type)).toEqual([
      EVENT_TYPES.interaction,
      EVENT_TYPES.interaction,
      EVENT_TYPES.telemetry,
      EVENT_TYPES.telemetry,
      EVENT_TYPES.gateway,
    ]);
    const [i1, i2, t1, t2] = events;
    expect(i1?.data.agent_id).toBe(agent.agentId);
    expect(i1?.data.nonce).not.toBe(i2?.data.nonce); // natural key (agent_id, nonce)
    expect(t1?.data.period_end).not.toBe(t2?.data.period_end); // natural key (time = period_end, agent_id)
    expect(t1?.data.period_end).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('applies overrides, and removes fields given as undefined', () => {
    const agent = newAgent();
    const e = interactionEvent(agent.agentId, { id: 'fixed', data: { nonce: '18446744073709551615', vendor_id: undefined } });
    expect(e.id).toBe('fixed');
    expect(e.data.nonce).toBe('18446744073709551615');
    expect('vendor_id' in e.data).toBe(false);
    expect(e.data.success).toBe(true);
    const g = gatewayEvent({ time: undefined, data: { gateway_id: 'gw-9' } });
    expect('time' in g).toBe(false);
    expect(g.source).toBe('https://gateway.example.test/gw-9');
  });

  it('makes well-formed gateway API keys (§4)', () => {
    const key = apiKeyText('live');
    expect(key).toMatch(/^mpk_live_[A-Za-z0-9_-]{43}$/); // 32 bytes in unpadded base64url
    expect(Buffer.from(key.slice('mpk_live_'.length), 'base64url')).toHaveLength(32);
    expect(apiKeyText()).toMatch(/^mpk_test_/);
    expect(bearer(key)).toEqual({ authorization: `Bearer ${key}` });
  });

  it('signs the gzip bytes when a batch is gzipped', async () => {
    const { postAgentBatch } = await import('../helpers/agent.js');
    const agent = newAgent();
    const events = [interactionEvent(agent.agentId)];
    // A throwaway server that records what arrives, to check the bytes on the wire.
    const { createServer } = await import('node:http');
    let received: { headers: Record<string, string | string[] | undefined>; body: Buffer } | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received = { headers: req.headers, body: Buffer.concat(chunks) };
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end('{"accepted":1,"rejected":[]}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no address');
      const res = await postAgentBatch(`http://127.0.0.1:${address.port}`, agent, events, { gzip: true });
      expect(res.status).toBe(202);
      expect(res.json).toEqual({ accepted: 1, rejected: [] });
      const got = received as unknown as { headers: Record<string, string>; body: Buffer };
      expect(got.headers['content-encoding']).toBe('gzip');
      expect(got.headers['content-type']).toBe('application/cloudevents-batch+json');
      expect(JSON.parse(gunzipSync(got.body).toString('utf8'))).toEqual(events);
      const headers = {
        'x-machpay-agent': got.headers['x-machpay-agent'] ?? '',
        'x-machpay-timestamp': got.headers['x-machpay-timestamp'] ?? '',
        'x-machpay-signature': got.headers['x-machpay-signature'] ?? '',
      };
      expect(verifyWithNodeCrypto(agent.publicKey, headers, got.body)).toBe(true);
      expect(verifyWithNodeCrypto(agent.publicKey, headers, gunzipSync(got.body))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
