import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeJsonBatch,
  gatewayEvent,
  interactionEvent,
  MEDIA_TYPES,
  newAgent,
  postAgentBatch,
  postEvents,
  signAgentRequest,
  telemetryEvent,
  type CloudEvent,
} from '../helpers/agent.js';
import { base58Encode } from '../../src/protocol/index.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { RECEIVER_ENTRY, startReceiver, type RunningReceiver } from '../helpers/receiver.js';

/** Every rule of docs/protocol.md §1–§6, through real HTTP, against a real PostgreSQL. */

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('protocol');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '2', LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

const run = promisify(execFile);
async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [RECEIVER_ENTRY, ...args], { env: { ...process.env, DATABASE_URL: db.url } });
  return stdout;
}

async function interactions(agentId: string) {
  return query<{ nonce: string; amount_atomic: string | null; vendor_id: string; latency_ms: number; success: boolean }>(
    db.url,
    'SELECT nonce, amount_atomic, vendor_id, latency_ms, success FROM agent_interactions WHERE agent_id = $1 ORDER BY nonce',
    [agentId],
  );
}

function sign(agent: ReturnType<typeof newAgent>, body: Uint8Array, extra: Record<string, string> = {}) {
  return { ...signAgentRequest(agent, body, { signer: 'node' }), ...extra };
}

/**
 * Binary mode (§3 v1.1): the ce-* header values are signed too, as the lines
 * `ce-specversion:{v}\n` … `ce-time:{v}\n` between the prefix and the body, each value as
 * sent. Signing those lines followed by the body gives exactly the signed bytes.
 */
function signBinary(agent: ReturnType<typeof newAgent>, body: Uint8Array, headers: Record<string, string>) {
  const lines = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time'].map((h) => `${h}:${headers[h] ?? ''}\n`).join('');
  const signed = Buffer.concat([Buffer.from(lines, 'latin1'), body]);
  return { ...signAgentRequest(agent, signed, { signer: 'node' }), ...headers };
}

describe('accepted bodies (§2)', () => {
  it('stores a signed JSON batch and registers the agent', async () => {
    const agent = newAgent();
    const events = [1, 2, 3].map((n) => interactionEvent(agent.agentId, { data: { nonce: n, latency_ms: 10 * n } }));
    const res = await postAgentBatch(rx.url, agent, events, { signer: 'node' });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: 3, rejected: [] });
    const rows = await interactions(agent.agentId);
    expect(rows.map((r) => [r.nonce, r.latency_ms])).toEqual([
      ['1', 10],
      ['2', 20],
      ['3', 30],
    ]);
    const agents = await query(db.url, 'SELECT first_seen_at, last_seen_at FROM agents WHERE pubkey = $1', [agent.agentId]);
    expect(agents).toHaveLength(1);
  });

  it('stores a MessagePack batch with int64 values exactly', async () => {
    const agent = newAgent();
    const events = [interactionEvent(agent.agentId, { data: { nonce: 9223372036854775807n, amount_atomic: 9223372036854775807n } })];
    const body = new Packr({ useRecords: false }).pack(events);
    const res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body, { 'content-type': MEDIA_TYPES.msgpackBatch }));
    expect(res.status).toBe(202);
    const rows = await interactions(agent.agentId);
    expect(rows).toEqual([expect.objectContaining({ nonce: '9223372036854775807', amount_atomic: '9223372036854775807' })]);
  });

  it('keeps int64 values exact when sent as JSON numbers and as strings', async () => {
    const agent = newAgent();
    const text =
      `[${JSON.stringify(interactionEvent(agent.agentId, { data: { nonce: 1 } })).replace('"nonce":1', '"nonce":9223372036854775807')},` +
      `${JSON.stringify(interactionEvent(agent.agentId, { data: { nonce: '-9223372036854775808', amount_atomic: '9007199254740993' } }))}]`;
    const body = new TextEncoder().encode(text);
    const res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body));
    expect(res.status).toBe(202);
    expect((await interactions(agent.agentId)).map((r) => [r.nonce, r.amount_atomic])).toEqual([
      ['-9223372036854775808', '9007199254740993'],
      ['9223372036854775807', expect.anything()],
    ]);
  });

  it('accepts one structured event (application/cloudevents+json)', async () => {
    const agent = newAgent();
    const body = new TextEncoder().encode(JSON.stringify(interactionEvent(agent.agentId, { data: { nonce: 7 } })));
    const res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body, { 'content-type': `${MEDIA_TYPES.jsonSingle}; charset=utf-8` }));
    expect(res.status).toBe(202);
    expect((await interactions(agent.agentId)).map((r) => r.nonce)).toEqual(['7']);
  });

  it('accepts binary mode: ce-* headers and the data as the body', async () => {
    const agent = newAgent();
    const ev = interactionEvent(agent.agentId, { data: { nonce: 11 } });
    const body = new TextEncoder().encode(JSON.stringify(ev.data));
    const headers = signBinary(agent, body, {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': String(ev.id),
      'ce-source': String(ev.source),
      'ce-type': String(ev.type),
      'ce-time': String(ev.time),
    });
    const res = await postEvents(rx.url, '/v1/agent', body, headers);
    expect(res.status).toBe(202);
    expect((await interactions(agent.agentId)).map((r) => r.nonce)).toEqual(['11']);
  });

  it('refuses binary-mode attributes that are not printable ASCII (headers cannot carry them faithfully)', async () => {
    const agent = newAgent();
    const ev = interactionEvent(agent.agentId, { data: { nonce: 12 } });
    const body = new TextEncoder().encode(JSON.stringify(ev.data));
    const headers = signBinary(agent, body, {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'caf\u00e9-1',
      'ce-source': String(ev.source),
      'ce-type': String(ev.type),
      'ce-time': String(ev.time),
    });
    const res = await postEvents(rx.url, '/v1/agent', body, headers);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: 'no_valid_events' }, rejected: [{ index: 0, code: 'invalid_event', message: expect.stringContaining('ce-id') }] });
    expect(await interactions(agent.agentId)).toHaveLength(0);
  });

  it('accepts gzip, with the signature over the compressed bytes', async () => {
    const agent = newAgent();
    const events = [interactionEvent(agent.agentId, { data: { nonce: 5 } })];
    const res = await postAgentBatch(rx.url, agent, events, { gzip: true, signer: 'node' });
    expect(res.status).toBe(202);
    expect((await interactions(agent.agentId)).map((r) => r.nonce)).toEqual(['5']);
  });

  it('stores telemetry reports with their period sums', async () => {
    const agent = newAgent();
    const ev = telemetryEvent(agent.agentId);
    const res = await postAgentBatch(rx.url, agent, [ev], { signer: 'node' });
    expect(res.status).toBe(202);
    const rows = await query<{ agent_id: string; total_requests: number }>(db.url, 'SELECT agent_id, total_requests FROM agent_telemetry WHERE agent_id = $1', [
      agent.agentId,
    ]);
    expect(rows).toHaveLength(1);
  });
});

describe('duplicates (§2, §5)', () => {
  it('stores a retried request once', async () => {
    const agent = newAgent();
    const events = [interactionEvent(agent.agentId, { data: { nonce: 1 } }), interactionEvent(agent.agentId, { data: { nonce: 2 } })];
    const body = encodeJsonBatch(events);
    for (let i = 0; i < 2; i++) {
      const res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body));
      expect(res.status).toBe(202);
      expect(res.json).toEqual({ accepted: 2, rejected: [] });
    }
    expect(await interactions(agent.agentId)).toHaveLength(2);
  });

  it('stores an event repeated inside one batch once', async () => {
    const agent = newAgent();
    const ev = interactionEvent(agent.agentId, { data: { nonce: 42 } });
    const res = await postAgentBatch(rx.url, agent, [ev, ev, ev], { signer: 'node' });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: 3, rejected: [] });
    expect(await interactions(agent.agentId)).toHaveLength(1);
  });

  it('stores a gateway event once per (source, id)', async () => {
    const key = (await cli('keys', 'create', '--tenant', 'dup-tenant', '--name', 'dup')).trim().split('\n').pop() as string;
    const ev = gatewayEvent();
    const body = encodeJsonBatch([ev, ev]);
    for (let i = 0; i < 2; i++) {
      const res = await postEvents(rx.url, '/v1/ingest', body, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(202);
    }
    const rows = await query(db.url, 'SELECT 1 FROM gateway_telemetry WHERE event_id = $1', [ev.id]);
    expect(rows).toHaveLength(1);
  });
});

describe('agent signatures (§3)', () => {
  const agent = newAgent();
  const body = encodeJsonBatch([interactionEvent(agent.agentId)]);

  it('401 missing_signature without the headers', async () => {
    const res = await postEvents(rx.url, '/v1/agent', body, {});
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'missing_signature', message: expect.any(String) } });
  });

  it('401 bad_signature for a signature that does not verify', async () => {
    const headers = sign(agent, body);
    const tampered = new Uint8Array(body);
    tampered[tampered.length - 2] = (tampered[tampered.length - 2] as number) ^ 1;
    const res = await postEvents(rx.url, '/v1/agent', tampered, headers);
    expect(res.status).toBe(401);
    expect((res.json as { error: { code: string } }).error.code).toBe('bad_signature');
  });

  it('401 bad_signature for a malformed key or signature', async () => {
    for (const bad of [{ 'x-machpay-agent': '0OIl' }, { 'x-machpay-signature': 'abc' }, { 'x-machpay-timestamp': 'soon' }]) {
      const res = await postEvents(rx.url, '/v1/agent', body, { ...sign(agent, body), ...bad });
      expect(res.status).toBe(401);
      expect((res.json as { error: { code: string } }).error.code).toBe('bad_signature');
    }
  });

  it('401 bad_signature for the small-order key whose trivial signature fits every message', async () => {
    // Key = the identity point, signature R = identity, S = 0: [S]B = R + [k]A holds for any
    // message, and OpenSSL (node:crypto) accepts it; nobody holds a private key for it.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const signature = new Uint8Array(64);
    signature[0] = 1;
    const trivial = encodeJsonBatch([interactionEvent(base58Encode(identity))]);
    const headers = {
      'x-machpay-agent': base58Encode(identity),
      'x-machpay-timestamp': String(Date.now()),
      'x-machpay-signature': Buffer.from(signature).toString('base64'),
    };
    const res = await postEvents(rx.url, '/v1/agent', trivial, headers);
    expect(res.status).toBe(401);
    expect((res.json as { error: { code: string } }).error.code).toBe('bad_signature');
  });

  it('401 bad_signature when another agent signed it', async () => {
    const other = newAgent();
    const res = await postEvents(rx.url, '/v1/agent', body, { ...sign(other, body), 'x-machpay-agent': agent.agentId });
    expect((res.json as { error: { code: string } }).error.code).toBe('bad_signature');
  });

  it('401 timestamp_out_of_window beyond 300 s', async () => {
    const headers = signAgentRequest(agent, body, { timestampMs: Date.now() - 301_000, signer: 'node' });
    const res = await postEvents(rx.url, '/v1/agent', body, headers);
    expect(res.status).toBe(401);
    expect((res.json as { error: { code: string } }).error.code).toBe('timestamp_out_of_window');
  });

  it('rejects an event naming another agent on its own (agent_mismatch)', async () => {
    const other = newAgent();
    const events = [interactionEvent(agent.agentId, { data: { nonce: 1 } }), interactionEvent(other.agentId, { data: { nonce: 2 } })];
    const res = await postAgentBatch(rx.url, agent, events, { signer: 'node' });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: 1, rejected: [{ index: 1, id: events[1]?.id, code: 'agent_mismatch', message: expect.any(String) }] });
    expect(await interactions(other.agentId)).toHaveLength(0);
  });
});

describe('per-event validation (§5)', () => {
  it('names the invalid field and stores the valid events', async () => {
    const agent = newAgent();
    const events: CloudEvent[] = [
      interactionEvent(agent.agentId, { data: { nonce: 1, latency_ms: -5 } }),
      interactionEvent(agent.agentId, { data: { nonce: 2, vendor_id: 'v'.repeat(65) } }),
      interactionEvent(agent.agentId, { data: { nonce: 3 } }),
    ];
    const res = await postAgentBatch(rx.url, agent, events, { signer: 'node' });
    expect(res.status).toBe(202);
    const body = res.json as { accepted: number; rejected: { index: number; code: string; message: string }[] };
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'invalid_event'],
      [1, 'invalid_event'],
    ]);
    expect(body.rejected[0]?.message).toContain('latency_ms');
    expect(body.rejected[1]?.message).toContain('vendor_id');
    expect((await interactions(agent.agentId)).map((r) => r.nonce)).toEqual(['3']);
  });

  it('rejects a type the endpoint does not take (unknown_type)', async () => {
    const agent = newAgent();
    const events = [gatewayEvent(), interactionEvent(agent.agentId, { type: 'com.example.other' })];
    const res = await postAgentBatch(rx.url, agent, events, { signer: 'node' });
    expect(res.status).toBe(400);
    const body = res.json as { error: { code: string }; rejected: { code: string }[] };
    expect(body.error.code).toBe('no_valid_events');
    expect(body.rejected.map((r) => r.code)).toEqual(['unknown_type', 'unknown_type']);
  });

  it('400 invalid_body for a body that is not JSON', async () => {
    const agent = newAgent();
    const body = new TextEncoder().encode('[{"specversion": "1.0", ');
    const res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body));
    expect(res.status).toBe(400);
    expect((res.json as { error: { code: string } }).error.code).toBe('invalid_body');
  });
});

describe('limits and media types (§2, §6)', () => {
  const agent = newAgent();

  it('413 body_too_large over 1 MiB, answered from the headers alone', async () => {
    // A raw request announcing 1 MiB + 1 and sending no body: the answer must not wait for it.
    const h = sign(agent, new Uint8Array(0));
    const head =
      `POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents-batch+json\r\ncontent-length: ${1024 * 1024 + 1}\r\n` +
      Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
      '\r\n';
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(rx.port, '127.0.0.1', () => socket.write(head));
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      setTimeout(() => (socket.destroy(), resolve(text)), 5000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"body_too_large"');
  });

  it('413 body_too_large when gzip inflates past 8 MiB', async () => {
    const body = new Uint8Array(gzipSync(Buffer.alloc(9 * 1024 * 1024, 0x20)));
    const res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body, { 'content-encoding': 'gzip' }));
    expect(res.status).toBe(413);
    expect((res.json as { error: { code: string } }).error.code).toBe('body_too_large');
  });

  it('413 too_many_events over 1000 events', async () => {
    const events = Array.from({ length: 1001 }, (_, i) => interactionEvent(agent.agentId, { data: { nonce: i } }));
    const res = await postAgentBatch(rx.url, agent, events, { signer: 'node' });
    expect(res.status).toBe(413);
    expect((res.json as { error: { code: string } }).error.code).toBe('too_many_events');
  });

  it('415 for other media types and encodings', async () => {
    const body = encodeJsonBatch([interactionEvent(agent.agentId)]);
    let res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body, { 'content-type': 'text/plain' }));
    expect([res.status, (res.json as { error: { code: string } }).error.code]).toEqual([415, 'unsupported_media_type']);
    res = await postEvents(rx.url, '/v1/agent', body, sign(agent, body, { 'content-encoding': 'br' }));
    expect([res.status, (res.json as { error: { code: string } }).error.code]).toEqual([415, 'unsupported_encoding']);
  });
});

describe('gateway API keys (§4)', () => {
  it('creates, uses and revokes a key', async () => {
    const out = (await cli('keys', 'create', '--tenant', 'acme', '--name', 'edge-1')).trim().split('\n');
    const key = out[out.length - 1] as string;
    expect(key).toMatch(/^mpk_live_[A-Za-z0-9_-]{43}$/);
    const stored = await query<{ key_hash: Buffer }>(db.url, 'SELECT key_hash FROM api_keys WHERE tenant_id = $1', ['acme']);
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(key.slice(9));

    const ev = gatewayEvent();
    const ok = await postEvents(rx.url, '/v1/ingest', encodeJsonBatch([ev]), { authorization: `Bearer ${key}` });
    expect(ok.status).toBe(202);
    const rows = await query<{ tenant_id: string }>(db.url, 'SELECT tenant_id FROM gateway_telemetry WHERE event_id = $1', [ev.id]);
    expect(rows).toEqual([{ tenant_id: 'acme' }]);

    const id = (await cli('keys', 'list', '--tenant', 'acme')).split('\n')[1]?.split('\t')[0] as string;
    expect(await cli('keys', 'revoke', id)).toContain('revoked');
    await expect
      .poll(async () => (await postEvents(rx.url, '/v1/ingest', encodeJsonBatch([gatewayEvent()]), { authorization: `Bearer ${key}` })).status, {
        timeout: 5000,
      })
      .toBe(401);
  });

  it('401 invalid_api_key for unknown, malformed and missing keys', async () => {
    const body = encodeJsonBatch([gatewayEvent()]);
    for (const auth of [`Bearer mpk_live_${'A'.repeat(43)}`, 'Bearer nope', '']) {
      const res = await postEvents(rx.url, '/v1/ingest', body, auth === '' ? {} : { authorization: auth });
      expect(res.status).toBe(401);
      expect((res.json as { error: { code: string } }).error.code).toBe('invalid_api_key');
    }
  });

  it('takes no agent events on /v1/ingest (unknown_type)', async () => {
    const key = (await cli('keys', 'create', '--tenant', 'acme2', '--name', 'x', '--test')).trim().split('\n').pop() as string;
    expect(key).toMatch(/^mpk_test_/);
    const res = await postEvents(rx.url, '/v1/ingest', encodeJsonBatch([interactionEvent(newAgent().agentId)]), { authorization: `Bearer ${key}` });
    expect(res.status).toBe(400);
    expect((res.json as { rejected: { code: string }[] }).rejected[0]?.code).toBe('unknown_type');
  });
});

describe('operations (§1)', () => {
  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`${rx.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${rx.url}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${rx.url}/metrics`)).text();
    for (const name of ['machpay_events_total', 'machpay_ack_latency_seconds', 'machpay_ring_used_bytes', 'machpay_copy_rows_total']) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/machpay_events_total\{endpoint="agent",outcome="accepted"\} [1-9]/);
  });

  it('answers unknown paths and methods with the error shape', async () => {
    const res = await fetch(`${rx.url}/v1/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    expect((await fetch(`${rx.url}/v1/agent`)).status).toBe(405);
  });
});
