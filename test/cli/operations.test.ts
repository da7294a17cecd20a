import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJsonBatch, interactionEvent, newAgent, postAgentBatch, postEvents, signAgentRequest } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { RECEIVER_ENTRY, startReceiver } from '../helpers/receiver.js';

/** Configuration, CLI and the operational promises: limits, timeouts, graceful stop. */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('operations');
});
afterAll(async () => {
  await db?.drop();
});

const run = promisify(execFile);

describe('command line', () => {
  it('prints help with every configuration key', async () => {
    const { stdout } = await run(process.execPath, [RECEIVER_ENTRY, '--help']);
    for (const key of ['PORT', 'HOST', 'DATABASE_URL', 'CLICKHOUSE_URL', 'WORKERS', 'MAX_BODY_BYTES', 'RING_BYTES']) expect(stdout).toContain(key);
    expect((await run(process.execPath, [RECEIVER_ENTRY, 'keys', '--help'])).stdout).toContain('keys create --tenant T --name N');
  });

  it('refuses invalid configuration naming the key', async () => {
    const err = await run(process.execPath, [RECEIVER_ENTRY, 'serve'], { env: { ...process.env, PORT: 'eighty' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 2, stderr: expect.stringContaining('PORT') });
    const flag = await run(process.execPath, [RECEIVER_ENTRY, 'serve', '--workers', '0']).catch((e: unknown) => e);
    expect(flag).toMatchObject({ code: 2, stderr: expect.stringContaining('WORKERS') });
  });

  it('migrates idempotently and creates this month and the next', async () => {
    const env = { ...process.env, DATABASE_URL: db.url };
    await run(process.execPath, [RECEIVER_ENTRY, 'migrate'], { env });
    await run(process.execPath, [RECEIVER_ENTRY, 'migrate'], { env });
    const parts = await query<{ relname: string }>(db.url, "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '^agent_(interactions|telemetry)_y' ORDER BY 1");
    expect(parts).toHaveLength(4);
    const versions = await query(db.url, 'SELECT version FROM schema_migrations');
    expect(versions.length).toBeGreaterThan(0);
  });
});

describe('limits and timeouts', () => {
  it('rate-limits one agent with 429 rate_limited and Retry-After', async () => {
    const rx = await startReceiver({ DATABASE_URL: db.url, AGENT_RATE_LIMIT: '1', AGENT_RATE_BURST: '2', LOG_LEVEL: 'warn' });
    try {
      const agent = newAgent();
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof postAgentBatch>> | null = null;
      for (let i = 0; i < 4; i++) {
        const res = await postAgentBatch(rx.url, agent, [interactionEvent(agent.agentId)], { signer: 'node' });
        statuses.push(res.status);
        if (res.status === 429) limited = res;
      }
      expect(statuses.slice(0, 2)).toEqual([202, 202]);
      expect(statuses).toContain(429);
      expect((limited?.json as { error: { code: string } }).error.code).toBe('rate_limited');
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Another agent is not affected.
      const other = newAgent();
      expect((await postAgentBatch(rx.url, other, [interactionEvent(other.agentId)], { signer: 'node' })).status).toBe(202);
    } finally {
      await rx.stop();
    }
  });

  it('closes a connection whose body does not arrive in time, and keeps serving', async () => {
    const rx = await startReceiver({ DATABASE_URL: db.url, BODY_TIMEOUT_MS: '300', LOG_LEVEL: 'warn' });
    try {
      const agent = newAgent();
      const body = encodeJsonBatch([interactionEvent(agent.agentId)]);
      const h = signAgentRequest(agent, body, { signer: 'node' });
      const closed = await new Promise<boolean>((resolve) => {
        const socket = connect(rx.port, '127.0.0.1', () => {
          socket.write(
            `POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents-batch+json\r\ncontent-length: ${body.length}\r\n` +
              `x-machpay-agent: ${h['x-machpay-agent']}\r\nx-machpay-timestamp: ${h['x-machpay-timestamp']}\r\nx-machpay-signature: ${h['x-machpay-signature']}\r\n\r\n`,
          );
          socket.write(body.subarray(0, 10));
        });
        socket.on('close', () => resolve(true));
        socket.on('error', () => undefined);
        setTimeout(() => resolve(false), 5000).unref();
      });
      expect(closed).toBe(true);
      expect((await postEvents(rx.url, '/v1/agent', body, h)).status).toBe(202);
    } finally {
      await rx.stop();
    }
  });
});

describe('graceful stop', () => {
  it('answers every request in flight on SIGTERM and exits 0', async () => {
    const rx = await startReceiver({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
    const agents = Array.from({ length: 20 }, () => newAgent());
    const sends = agents.map((a) =>
      postAgentBatch(rx.url, a, Array.from({ length: 50 }, () => interactionEvent(a.agentId)), { signer: 'node' }).catch(() => null),
    );
    await new Promise((r) => setTimeout(r, 20));
    const code = rx.stop('SIGTERM');
    const results = await Promise.all(sends);
    expect(await code).toBe(0);
    // Every request got an answer: either it was stored (202) or refused as not ready (503).
    let accepted = 0;
    for (const res of results) {
      if (res === null) continue; // sent after the listener closed: never received
      expect([202, 503]).toContain(res.status);
      if (res.status === 202) accepted += (res.json as { accepted: number }).accepted;
    }
    const ids = agents.map((a) => a.agentId);
    const stored = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
    expect(Number(stored[0]?.n)).toBe(accepted);
  });
});
