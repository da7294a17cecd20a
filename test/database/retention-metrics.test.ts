import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getOnce } from '../helpers/http-get.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

/*
 * A receiver's own retention run at start (docs/read-api.md §7) deletes the refused rows past
 * RETENTION_REFUSED_ROWS_DAYS and shows on /metrics how many are left and how old the oldest is.
 */

let m: MigratedDatabase;
let rx: RunningReceiver | undefined;

beforeAll(async () => {
  m = await createMigratedDatabase('retention_metrics');
  for (const age of ['40 days', '1 day', '2 hours']) {
    await m.pool.query(
      `INSERT INTO refused_rows (refused_at, table_name, copy_format, row_data, sql_state, message)
       VALUES (now() - $1::interval, 'agent_telemetry', 'text', '\\x00', '23502', 'null value')`,
      [age],
    );
  }
  rx = await startReceiver({ DATABASE_URL: m.db.url, WORKERS: '1', LOG_LEVEL: 'warn', RETENTION_REFUSED_ROWS_DAYS: '30' });
}, 60_000);

afterAll(async () => {
  await rx?.stop();
  await m?.close();
});

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

it('deletes refused rows older than their window and exports the count and age of the rest', async () => {
  const url = `${(rx as RunningReceiver).url}/metrics`;
  let text = '';
  // The first partition check runs in the background after start.
  for (let deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(200)) {
    text = (await getOnce(url, 5_000)).body;
    if (sample(text, 'machpay_retention_runs_total') === 1) break;
  }
  expect(sample(text, 'machpay_retention_runs_total')).toBe(1);
  expect(sample(text, 'machpay_retention_rows_deleted_total{table="refused_rows"}')).toBe(1);
  expect(sample(text, 'machpay_refused_rows')).toBe(2);
  const age = sample(text, 'machpay_refused_rows_oldest_age_seconds') ?? 0;
  expect(age).toBeGreaterThanOrEqual(86_400);
  expect(age).toBeLessThan(86_400 + 120);
  const { rows } = await m.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM refused_rows');
  expect(rows[0]?.n).toBe(2);
});
