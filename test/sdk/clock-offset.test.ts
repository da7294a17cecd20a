import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { clockOffsetFromDate } from '../../src/sdk/clock-offset.js';
import { generateKeypair, TelemetryEmitter } from '../../src/sdk/index.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

/**
 * docs/protocol.md §6: a producer whose clock is off by more than the receiver's window gets
 * 401 timestamp_out_of_window with the receiver's clock in `Date`; the SDK adopts that offset
 * and retries once, so its events land instead of failing for good.
 */

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('sdk_clock');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('clockOffsetFromDate', () => {
  it('centres the whole-second Date on the round trip', () => {
    const sent = Date.parse('2026-06-15T12:10:00.200Z');
    expect(clockOffsetFromDate('Mon, 15 Jun 2026 12:00:00 GMT', sent, sent + 200)).toBe(-600_000 + 500 - 300);
    expect(clockOffsetFromDate(null, sent, sent)).toBeNull();
    expect(clockOffsetFromDate('yesterday-ish', sent, sent)).toBeNull();
  });
});

describe('SDK with a skewed clock against the receiver', () => {
  it.each([
    ['10 minutes behind', -600_000],
    ['2 hours behind', -7_200_000],
  ])('delivers every event when its clock is %s', async (_name, skewMs) => {
    const realNow = Date.now.bind(Date);
    // The receiver runs in its own process on the real clock; only this process's clock is skewed.
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skewMs);

    const keypair = generateKeypair();
    const emitter = new TelemetryEmitter({
      receiverUrl: rx.url,
      keypair,
      maxBatchEvents: 10,
      flushIntervalMs: 20,
      telemetryIntervalMs: 0,
      batchDeadlineMs: 20_000,
      retryInitialDelayMs: 20,
      retryMaxDelayMs: 200,
    });
    emitter.start();
    // Event times from the real clock: the window of §2 is not what this test is about.
    for (let i = 0; i < 25; i++) emitter.recordInteraction({ vendorId: 'v1', success: true, latencyMs: i, time: realNow() });
    const stats = await emitter.stop({ deadlineMs: 20_000 });

    expect(stats.failed + stats.dropped + stats.abandoned).toBe(0);
    expect(stats.sent).toBe(25);
    // One correction: the first batch learnt the offset, the others signed with it.
    expect(stats.retried).toBe(1);
    const rows = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM agent_interactions WHERE agent_id = $1', [keypair.agentId]);
    expect(rows[0]?.n).toBe('25');
  });
});
