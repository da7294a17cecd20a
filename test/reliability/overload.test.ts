import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactionEvent, newAgent, postAgentBatch, signAgentRequest } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

/** Far more load than a small receiver can take: it refuses cleanly, stays small, and stays up. */

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('overload');
  // A 4 MiB ring holds about twenty of these 500-event bodies: the rest must be refused.
  rx = await startReceiver({ DATABASE_URL: db.url, RING_BYTES: String(4 * 1024 * 1024), WORKERS: '1', PG_POOL_SIZE: '1', LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

describe('overload', () => {
  it('answers only 202, 429 or 503, keeps memory bounded, and stores every acknowledged event', async () => {
    const agents = Array.from({ length: 48 }, () => newAgent());
    const statuses = new Map<number, number>();
    let acknowledged = 0;
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssMiB(rx.process.pid as number))), 100);
    const until = Date.now() + 6000;
    await Promise.all(
      agents.map(async (agent) => {
        while (Date.now() < until) {
          const events = Array.from({ length: 500 }, () => interactionEvent(agent.agentId));
          const res = await postAgentBatch(rx.url, agent, events, { signer: 'node' }).catch(() => null);
          const status = res?.status ?? 0;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 202) acknowledged += (res?.json as { accepted: number }).accepted;
          if (status === 429) expect(Number(res?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        }
      }),
    );
    clearInterval(sampler);
    console.info(`overload: statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${acknowledged} events acknowledged, max RSS ${maxRss.toFixed(0)} MiB`);

    expect([...statuses.keys()].filter((s) => ![202, 429, 503].includes(s)), `statuses ${JSON.stringify([...statuses])}`).toEqual([]);
    expect(statuses.get(429) ?? 0, 'the ring filled up and the receiver said so').toBeGreaterThan(0);
    expect(statuses.get(202) ?? 0).toBeGreaterThan(0);
    expect(maxRss, 'receiver RSS (MiB)').toBeLessThan(400);
    expect((await fetch(`${rx.url}/healthz`)).status).toBe(200);
    const ids = agents.map((a) => a.agentId);
    const rows = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
    expect(Number(rows[0]?.n)).toBe(acknowledged);
  }, 60_000);

  it('a full ring answers 429 after reading the body, so a client still uploading gets it and keeps its connection', async () => {
    const agent = newAgent();
    const body = Buffer.alloc(900 * 1024, 0x20); // whitespace: never decoded, only held
    const head = (): string =>
      `POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents-batch+json\r\ncontent-length: ${body.length}\r\n` +
      Object.entries(signAgentRequest(agent, body, { signer: 'node' })).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
      '\r\n';
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(rx.port, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    // Uploads that never finish keep their reservations: five of 900 KiB fill the 4 MiB ring.
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const socket = await open();
        socket.on('error', () => undefined);
        socket.write(head() + body.subarray(0, 1024).toString('latin1'));
        held.push(socket);
      }
      await new Promise((r) => setTimeout(r, 200));

      const socket = await open();
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.write(head());
      socket.write(body);
      const answered = async (n: number): Promise<void> => {
        for (let waited = 0; (text.match(/HTTP\/1\.1 /g) ?? []).length < n && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      };
      await answered(1);
      expect(text).toMatch(/^HTTP\/1\.1 429 /);
      expect(text).toContain('"code":"overloaded"');
      expect(text.toLowerCase()).toMatch(/retry-after: [1-9]/);
      // The same connection answers the next request.
      socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      await answered(2);
      expect(text).toMatch(/HTTP\/1\.1 200 /);
      expect(closed).toBe(false);
      socket.destroy();
    } finally {
      for (const s of held) s.destroy();
    }
  }, 30_000);
});
