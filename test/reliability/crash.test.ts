import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';

/** kill -9 under load, then restart: every acknowledged event is stored exactly once. */

let db: TestDatabase;
let dataDir: string;
const receivers: RunningReceiver[] = [];

beforeAll(async () => {
  db = await createTestDatabase('crash');
  dataDir = await mkdtemp(join(tmpdir(), 'machpay-crash-'));
});

afterAll(async () => {
  for (const rx of receivers) await rx.stop().catch(() => undefined);
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('crash', () => {
  it('loses no acknowledged event and stores none twice across kill -9 and restart', async () => {
    const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn', WORKERS: '1' };
    const first = await startReceiver(env);
    receivers.push(first);
    const producer = new RetryingProducer(first.url, 8);
    const start = Date.now();
    const load = producer.run(8, 25, start + 6000, start + 60_000);

    await sleep(2500);
    const beforeCrash = producer.acknowledged.size;
    await first.kill9();
    const second = await startReceiver(env);
    receivers.push(second);
    producer.retarget(second.url);
    await load;

    expect(beforeCrash).toBeGreaterThan(0);
    expect(producer.statuses.get('network') ?? 0, 'requests cut off by the crash').toBeGreaterThan(0);
    const ids = producer.agents.map((a) => a.agentId);
    const rows = await query<{ agent_id: string; nonce: string }>(db.url, 'SELECT agent_id, nonce FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
    const stored = new Set(rows.map((r) => `${r.agent_id}:${r.nonce}`));
    expect(stored.size, 'no event stored twice').toBe(rows.length);
    expect([...producer.acknowledged].filter((k) => !stored.has(k)), 'acknowledged events missing').toEqual([]);
    // Every send was retried to success, so nothing is stored that was not acknowledged.
    expect(rows.length).toBe(producer.acknowledged.size);
    await sleep(0);
  }, 120_000);
});
