import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeypair, TelemetryEmitter } from '../../src/sdk/index.js';
import { freePort } from '../../src/net/index.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

/** The SDK against the real receiver: what it records lands in PostgreSQL once, through 429s and a restart. */

let db: TestDatabase;
let dataDir: string;
const receivers: RunningReceiver[] = [];

beforeAll(async () => {
  db = await createTestDatabase('sdk_real');
  dataDir = await mkdtemp(join(tmpdir(), 'machpay-sdk-'));
});

afterAll(async () => {
  for (const rx of receivers) await rx.stop().catch(() => undefined);
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('SDK → receiver', () => {
  it('stores every recorded interaction exactly once through rate limiting and a receiver restart', async () => {
    const port = await freePort();
    // A tight per-agent limit makes the receiver answer 429 with Retry-After: 1 now and then.
    const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, PORT: String(port), AGENT_RATE_LIMIT: '4', AGENT_RATE_BURST: '4', LOG_LEVEL: 'warn' };
    receivers.push(await startReceiver(env));

    const keypair = generateKeypair();
    const emitter = new TelemetryEmitter({
      receiverUrl: `http://127.0.0.1:${port}`,
      keypair,
      maxBatchEvents: 25,
      flushIntervalMs: 50,
      telemetryIntervalMs: 0,
      batchDeadlineMs: 60_000,
      retryInitialDelayMs: 50,
      retryMaxDelayMs: 500,
    });
    emitter.start();
    const total = 300;
    for (let i = 0; i < total; i++) {
      emitter.recordInteraction({ vendorId: `vendor-${i % 3}`, success: i % 5 !== 0, latencyMs: i % 400, amountAtomic: 1000 + i });
      if (i === 150) {
        // Restart the receiver (same port and data) while the SDK keeps sending.
        await (receivers.at(-1) as RunningReceiver).stop();
        await sleep(300);
        receivers.push(await startReceiver(env));
      }
      if (i % 25 === 0) await sleep(20);
    }
    const stats = await emitter.stop({ deadlineMs: 60_000 });

    expect(stats.sent).toBe(total);
    expect(stats.dropped + stats.failed + stats.abandoned).toBe(0);
    expect(stats.retried, 'the 429s and the restart made the SDK retry').toBeGreaterThan(0);
    const rows = await query<{ n: string; distinct: string }>(
      db.url,
      'SELECT count(*) AS n, count(DISTINCT nonce) AS distinct FROM agent_interactions WHERE agent_id = $1',
      [keypair.agentId],
    );
    expect(rows[0]).toEqual({ n: String(total), distinct: String(total) });
  }, 120_000);
});
