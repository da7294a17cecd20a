import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeypair, signAgentRequest, type BinaryModeHeaders } from '../../src/sdk/index.js';
import { postEvents, rfc3339 } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

/**
 * docs/protocol.md §3: a binary-mode request signed by the SDK is accepted by the real
 * receiver, and the same bytes replayed within the timestamp window with a changed ce-time
 * or ce-id are refused with bad_signature and store nothing.
 */

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('sdk_binary_replay');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

describe('binary mode against the receiver', () => {
  it('refuses a captured request replayed with a changed ce-time or ce-id', async () => {
    const keypair = generateKeypair();
    const body = new TextEncoder().encode(JSON.stringify({ agent_id: keypair.agentId, vendor_id: 'v1', nonce: 41, success: true, latency_ms: 5 }));
    const ce: BinaryModeHeaders = {
      'ce-specversion': '1.0',
      'ce-id': 'replay-1',
      'ce-source': `/agents/${keypair.agentId}`,
      'ce-type': 'com.machpay.agent.interaction.v1',
      'ce-time': rfc3339(new Date(Date.now() - 10_000)),
    };
    const signature = await signAgentRequest(keypair, '/v1/agent', body, Date.now(), keypair.agentId, ce);
    const send = (headers: BinaryModeHeaders): ReturnType<typeof postEvents> =>
      postEvents(rx.url, '/v1/agent', body, { ...signature, ...headers, 'content-type': 'application/json' });

    expect((await send(ce)).status).toBe(202);
    const laterTime = await send({ ...ce, 'ce-time': rfc3339() });
    expect(laterTime.status).toBe(401);
    expect(laterTime.json).toMatchObject({ error: { code: 'bad_signature' } });
    const otherId = await send({ ...ce, 'ce-id': 'replay-2' });
    expect(otherId.status).toBe(401);
    expect(otherId.json).toMatchObject({ error: { code: 'bad_signature' } });

    const rows = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM agent_interactions WHERE agent_id = $1', [keypair.agentId]);
    expect(rows[0]?.n).toBe('1');
  });
});
