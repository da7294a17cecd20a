import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_RETENTION, RetentionJob } from '../../src/retention/index.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

/*
 * Retention of resolved alerts (docs/read-api.md §7) on a clock the test sets: the run's `now`
 * is 2026-07-15 00:00 UTC, so with the default 90 days an alert resolved before 2026-04-16
 * 00:00 goes. Open alerts (firing, acknowledged or not) stay whatever their age.
 */
const NOW = Date.UTC(2026, 6, 15);
const DAY = 86_400_000;
const CUTOFF = NOW - 90 * DAY;
const log = createLogger('silent');

let m: MigratedDatabase;
let pool: pg.Pool;

async function insertAlert(agent: string, type: string, firedAtMs: number, resolvedAtMs: number | null, acknowledged = false): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO agent_alerts (agent_id, tenant_id, type, severity, state, message, fired_at, resolved_at, acknowledged_at)
     VALUES ($1, 't', $2, 'warning', CASE WHEN $4::timestamptz IS NULL THEN 'firing' ELSE 'resolved' END, 'm', $3, $4, CASE WHEN $5 THEN $3::timestamptz END)
     RETURNING id`,
    [agent, type, new Date(firedAtMs), resolvedAtMs === null ? null : new Date(resolvedAtMs), acknowledged],
  );
  return (rows[0] as { id: string }).id;
}

async function ids(): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM agent_alerts');
  return new Set(rows.map((r) => r.id));
}

beforeAll(async () => {
  m = await createMigratedDatabase('retention_alerts');
  pool = m.pool;
  await pool.query(`INSERT INTO agents (pubkey, first_seen_at, last_seen_at) SELECT 'agent-' || g, now(), now() FROM generate_series(1, 3) g`);
}, 60_000);

afterAll(async () => {
  await m?.close();
});

describe('retention of resolved alerts (docs/read-api.md §7)', () => {
  it('deletes the alerts resolved before the cutoff, in batches, and keeps younger and open ones whatever their age', async () => {
    // 20 alerts resolved before the cutoff (the last one a millisecond before it): three batches of 7.
    for (let i = 0; i < 20; i++) await insertAlert('agent-1', 'low_balance', CUTOFF - 400 * DAY, CUTOFF - 1 - i * DAY);
    // Resolved at the cutoff and after: kept, though they fired long before it.
    const atCutoff = await insertAlert('agent-1', 'runway', CUTOFF - 300 * DAY, CUTOFF);
    const young = await insertAlert('agent-1', 'runway', CUTOFF - 300 * DAY, NOW - 89 * DAY);
    // Open for a year and more: one acknowledged, one not.
    const open = await insertAlert('agent-2', 'stale_telemetry', NOW - 500 * DAY, null);
    const acknowledged = await insertAlert('agent-3', 'spend_limit', NOW - 500 * DAY, null, true);

    const job = new RetentionJob({ policy: DEFAULT_RETENTION, lockTimeoutMs: 5_000, statementTimeoutMs: 60_000, batchRows: 7, maxRunMs: 60_000 }, log);
    const c = await pool.connect();
    try {
      const r = await job.run(c, NOW);
      expect(r.complete).toBe(true);
      expect(r.rowsDeleted['agent_alerts']).toBe(20);
      expect(await ids()).toEqual(new Set([atCutoff, young, open, acknowledged]));
      expect(job.stats().rowsDeleted.get('agent_alerts')).toBe(20);
      // Years later, the open alerts are still there; the resolved ones have gone.
      const later = await job.run(c, NOW + 3650 * DAY);
      expect(later.rowsDeleted['agent_alerts']).toBe(2);
      expect(await ids()).toEqual(new Set([open, acknowledged]));
      expect(job.stats().rowsDeleted.get('agent_alerts')).toBe(22);
    } finally {
      c.release();
    }
  });

  it('a run with a shorter retention keeps what that retention keeps', async () => {
    const resolved = await insertAlert('agent-1', 'high_error_rate', NOW - 10 * DAY, NOW - 8 * DAY);
    const recent = await insertAlert('agent-1', 'high_error_rate', NOW - 6.5 * DAY, NOW - 6 * DAY);
    const job = new RetentionJob(
      { policy: { ...DEFAULT_RETENTION, resolvedAlertsDays: 7 }, lockTimeoutMs: 5_000, statementTimeoutMs: 60_000, batchRows: 7, maxRunMs: 60_000 },
      log,
    );
    const c = await pool.connect();
    try {
      expect((await job.run(c, NOW)).rowsDeleted['agent_alerts']).toBe(1);
    } finally {
      c.release();
    }
    const left = await ids();
    expect(left.has(resolved)).toBe(false);
    expect(left.has(recent)).toBe(true);
  });

  it('finds a batch through the partial index on resolved_at, not by reading the table', async () => {
    const c = await pool.connect();
    try {
      // The table is small here, so the planner would rightly read it whole: forbid that, and
      // see that an index serves the purge's condition.
      await c.query('SET enable_seqscan = off');
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT ctid FROM agent_alerts WHERE state = 'resolved' AND resolved_at < $1::timestamptz LIMIT 7`,
        [new Date(CUTOFF).toISOString()],
      );
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('idx_agent_alerts_resolved_at');
    } finally {
      await c.query('RESET enable_seqscan');
      c.release();
    }
  });
});
