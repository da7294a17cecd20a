import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneAlertChanges } from '../../src/alerts/alert-changes.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

/*
 * The stream's log of alert changes (schema/postgres/011) keeps a day: the sweep prunes what is
 * older in bounded batches, by the database's clock that wrote changed_at.
 */
let m: MigratedDatabase;
let pool: pg.Pool;

async function insertChanges(n: number, age: string): Promise<void> {
  await pool.query(
    `INSERT INTO agent_alert_changes (alert_id, agent_id, tenant_id, change, alert, changed_at)
     SELECT gen_random_uuid(), 'agent', 't', 'fired', '{}'::jsonb, now() - $2::interval FROM generate_series(1, $1::int)`,
    [n, age],
  );
}

async function ages(): Promise<string[]> {
  const { rows } = await pool.query<{ age: string }>(
    `SELECT CASE WHEN changed_at < now() - interval '1 day' THEN 'old' ELSE 'young' END AS age FROM agent_alert_changes ORDER BY 1`,
  );
  return rows.map((r) => r.age);
}

beforeAll(async () => {
  m = await createMigratedDatabase('alert_changes_prune');
  pool = m.pool;
}, 60_000);

afterAll(async () => {
  await m?.close();
});

describe('pruneAlertChanges', () => {
  it('deletes every change older than a day, more than one batch of them, and keeps the younger ones', async () => {
    await insertChanges(23, '25 hours');
    await insertChanges(3, '23 hours');
    // Batches of 5: four full and one of 3, each its own statement.
    expect(await pruneAlertChanges(pool, 5)).toBe(23);
    expect(await ages()).toEqual(['young', 'young', 'young']);
    expect(await pruneAlertChanges(pool, 5)).toBe(0);
  });

  it('goes on after a batch that comes back full: exactly one batch due, and more than the default batch', async () => {
    await insertChanges(5, '2 days');
    expect(await pruneAlertChanges(pool, 5)).toBe(5);
    await insertChanges(1200, '2 days');
    // The default batch (1000 rows) also goes on until nothing old is left.
    expect(await pruneAlertChanges(pool)).toBe(1200);
    expect(await ages()).toEqual(['young', 'young', 'young']);
  });
});
