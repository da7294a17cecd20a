import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * machpay_spool_capacity_bytes is SPOOL_MAX_BYTES while a spool exists and absent without one,
 * so `machpay_spool_bytes / machpay_spool_capacity_bytes > 0.8` (MachpaySpoolOver80Percent)
 * means the same on every receiver and never divides by a zero bound.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('observability_spool_capacity');
});
afterAll(async () => {
  await db?.drop();
});

async function metricsWith(spoolMaxBytes: string): Promise<string> {
  const rx = await startReceiver({ DATABASE_URL: db.url, SPOOL_MAX_BYTES: spoolMaxBytes, LOG_LEVEL: 'warn' });
  try {
    const res = await getOnce(`${rx.url}/metrics`, 5_000);
    expect(res.status).toBe(200);
    return res.body;
  } finally {
    await rx.stop();
  }
}

describe('machpay_spool_capacity_bytes', () => {
  it('is SPOOL_MAX_BYTES with a spool', async () => {
    const text = await metricsWith(String(8 * 1024 * 1024));
    expect(text).toMatch(/^machpay_spool_capacity_bytes 8388608$/m);
  });

  it('is absent when SPOOL_MAX_BYTES=0 turns the spool off', async () => {
    const text = await metricsWith('0');
    expect(text).not.toMatch(/^machpay_spool_capacity_bytes/m);
    // The rest of /metrics is there.
    expect(text).toMatch(/^machpay_build_info\{/m);
  });
});
