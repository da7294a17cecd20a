/**
 * The metrics', history's and balances' statements run with a generic plan made once per
 * connection (src/read/prepared.ts): PostgreSQL's own choice made a custom plan (or, for an
 * unnamed statement, a plan), planning every read anew. A statement that fails
 * inside leaves the connection usable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentHistory, agentMetrics, balancePoints } from '../../src/read/index.js';
import { queryWithGenericPlan } from '../../src/read/prepared.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

let d: MigratedDatabase;

beforeAll(async () => {
  // One connection: the prepared statements' counts below are that session's.
  d = await createMigratedDatabase('read_generic_plan', 1);
});
afterAll(async () => {
  await d?.close();
});

async function plans(name: string): Promise<{ generic: number; custom: number }> {
  const { rows } = await d.pool.query<{ generic: string; custom: string }>(
    'SELECT generic_plans::text AS generic, custom_plans::text AS custom FROM pg_prepared_statements WHERE name = $1',
    [name],
  );
  const r = rows[0];
  return r === undefined ? { generic: 0, custom: 0 } : { generic: Number(r.generic), custom: Number(r.custom) };
}

it('runs the agent metrics statement with its generic plan only, each unit', async () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const windows = { minute: 3_600_000, hour: 86_400_000, day: 30 * 86_400_000 };
  for (const [unit, span] of Object.entries(windows)) {
    for (let i = 0; i < 8; i++) await agentMetrics(d.pool, { agentId: 'GenericPlanAgent', tenantId: 'tenant-g' }, { fromMs: now - span, toMs: now }, now);
    expect(await plans(`read-agent-metrics-${unit}`), unit).toEqual({ generic: 8, custom: 0 });
  }
});

it('runs the history (one statement per set of filters) and balance statements with their generic plans only', async () => {
  const access = { agentId: 'GenericPlanAgent', tenantId: 'tenant-g' };
  const window = { fromMs: Date.parse('2026-12-06T00:00:00Z'), toMs: Date.parse('2026-12-07T00:00:00Z') };
  for (let i = 0; i < 6; i++) {
    await agentHistory(d.pool, access, { window: null, vendorId: undefined, success: undefined, cursor: undefined, limit: 10 + i });
    await agentHistory(d.pool, access, { window, vendorId: 'v', success: true, cursor: undefined, limit: 50 });
    await balancePoints(d.pool, access, window);
  }
  expect(await plans('read-history-')).toEqual({ generic: 6, custom: 0 });
  expect(await plans('read-history-wvs')).toEqual({ generic: 6, custom: 0 });
  expect(await plans('read-balance-points')).toEqual({ generic: 6, custom: 0 });
});

it('rolls back a statement that fails and keeps the connection for the next read', async () => {
  const failing = { name: 'generic-plan-test-failing', text: 'SELECT 1 / $1::int AS x', values: [0] };
  await expect(queryWithGenericPlan(d.pool, failing)).rejects.toMatchObject({ code: '22012' });
  const again = await queryWithGenericPlan<{ x: number }>(d.pool, { ...failing, values: [1] });
  expect(again.rows).toEqual([{ x: 1 }]);
  // Not left inside a transaction, nor with the setting.
  const state = await d.pool.query<{ mode: string; now: string; stmt: string }>(
    "SELECT current_setting('plan_cache_mode') AS mode, now()::text AS now, statement_timestamp()::text AS stmt",
  );
  expect(state.rows[0]?.mode).toBe('auto');
  expect(state.rows[0]?.now).toBe(state.rows[0]?.stmt);
});
