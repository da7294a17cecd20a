import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { startRestartablePostgres, type RestartablePostgres } from '../helpers/restartable-postgres.js';
import { RetryingProducer } from '../helpers/retrying-producer.js';

/** PostgreSQL stops for several seconds under load: acknowledged events go through the spool, none is lost or doubled. */

let pg: RestartablePostgres;
let rx: RunningReceiver;

beforeAll(async () => {
  pg = await startRestartablePostgres();
  rx = await startReceiver({ DATABASE_URL: pg.url, LOG_LEVEL: 'warn', WORKERS: '1' });
}, 120_000);

afterAll(async () => {
  await rx?.stop();
  await pg?.destroy();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${rx.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

describe('PostgreSQL outage', () => {
  it('keeps acknowledging through the spool and replays every event exactly once', async () => {
    const producer = new RetryingProducer(rx.url, 6);
    const start = Date.now();
    const load = producer.run(6, 20, start + 8000, start + 40_000);

    await sleep(2000);
    await pg.stop();
    const beforeOutage = producer.acknowledged.size;
    await sleep(4000);
    const duringOutage = producer.acknowledged.size - beforeOutage;
    const spooled = await metric('machpay_spool_records');
    const ready = (await fetch(`${rx.url}/readyz`)).status;
    await pg.start();
    await load;

    expect(duringOutage, 'events acknowledged while PostgreSQL was down').toBeGreaterThan(0);
    expect(spooled).toBeGreaterThan(0);
    expect(ready).toBe(200);
    await expect.poll(() => metric('machpay_spool_records'), { timeout: 60_000, interval: 250 }).toBe(0);

    const ids = producer.agents.map((a) => a.agentId);
    const rows = await query<{ agent_id: string; nonce: string }>(pg.url, 'SELECT agent_id, nonce FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
    const stored = rows.map((r) => `${r.agent_id}:${r.nonce}`);
    const storedSet = new Set(stored);
    expect(storedSet.size, 'no event stored twice').toBe(stored.length);
    // A Set lookup: the producer acknowledges 100k+ events on a fast machine.
    const missing = [...producer.acknowledged].filter((k) => !storedSet.has(k));
    expect(missing, 'acknowledged events missing from PostgreSQL').toEqual([]);
    expect(stored.length).toBe(producer.acknowledged.size);
  }, 120_000);
});
