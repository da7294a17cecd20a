/**
 * Shared by the alert tests: a migrated database, linked agents, and rows written into the
 * tables the ingest side writes (agent_telemetry; agent_interactions with their
 * rollup_pending tallies in the same transaction), and an evaluator on a clock the test moves.
 */
import pg from 'pg';
import { pino } from 'pino';
import { AlertEvaluator, type AlertEvaluatorDeps } from '../../src/alerts/index.js';
import { newAgent, type TestAgent } from '../helpers/agent.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

export const silentLog = pino({ level: process.env.ALERT_TEST_LOG ?? 'silent' });

export type AlertDatabase = MigratedDatabase;

export async function openAlertDatabase(prefix: string): Promise<AlertDatabase> {
  return createMigratedDatabase(prefix, 8);
}

/** A clock the test moves by hand. */
export class TestClock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function evaluatorOn(pool: pg.Pool, clock: TestClock, more: Partial<AlertEvaluatorDeps> = {}): AlertEvaluator {
  return new AlertEvaluator({ pool, log: silentLog, clock: clock.now, ...more });
}

/** An agent row (as ingest registers it), linked to `tenant` unless null, with any settings columns set. */
export async function linkedAgent(pool: pg.Pool, tenant: string | null, settings: Record<string, unknown> = {}): Promise<TestAgent> {
  const agent = newAgent();
  await pool.query(
    `INSERT INTO agents (pubkey, first_seen_at, last_seen_at, tenant_id, linked_at)
     VALUES ($1, now(), now(), $2::varchar, CASE WHEN $2::varchar IS NULL THEN NULL ELSE now() END)`,
    [agent.agentId, tenant],
  );
  await setSettings(pool, agent.agentId, settings);
  return agent;
}

/** Sets settings columns (names as in docs/read-api.md §5; null: back to the default). */
export async function setSettings(pool: pg.Pool, agentId: string, settings: Record<string, unknown>): Promise<void> {
  for (const [column, value] of Object.entries(settings)) {
    if (!/^[a-z_]+$/.test(column)) throw new Error(`bad column ${column}`);
    await pool.query(`UPDATE agents SET ${column} = $2 WHERE pubkey = $1`, [agentId, value]);
  }
}

/** One telemetry snapshot, as the COPY sink stores it. */
export async function snapshot(pool: pg.Pool, agentId: string, at: string | number, usdcAtomic: bigint | null, periodSeconds: number | null = 60): Promise<void> {
  await pool.query(
    `INSERT INTO agent_telemetry (time, agent_id, sol_balance_lamports, usdc_balance_atomic, period_seconds) VALUES ($1, $2, 1000000, $3, $4)`,
    [new Date(at).toISOString(), agentId, usdcAtomic === null ? null : usdcAtomic.toString(), periodSeconds],
  );
}

export interface Interaction {
  at: string | number;
  success: boolean;
  amountAtomic?: bigint;
  vendor?: string;
}

let nonce = 1;

/**
 * Interactions committed as ingest commits them: the raw rows and, in the same
 * transaction, one rollup_pending tally per (minute, vendor) with the raw latencies.
 */
export async function interactions(pool: pg.Pool, agentId: string, list: readonly Interaction[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const tallies = new Map<string, { minute: string; vendor: string; req: number; ok: number; bad: number; spend: bigint; lat: number[] }>();
    for (const i of list) {
      const time = new Date(i.at);
      const vendor = i.vendor ?? 'vendor-a';
      const amount = i.amountAtomic ?? 0n;
      await client.query(
        `INSERT INTO agent_interactions (time, agent_id, vendor_id, amount_atomic, nonce, success, latency_ms) VALUES ($1, $2, $3, $4, $5, $6, 42)`,
        [time.toISOString(), agentId, vendor, amount.toString(), nonce++, i.success],
      );
      const minute = new Date(Math.floor(time.getTime() / 60_000) * 60_000).toISOString();
      const key = `${minute}|${vendor}`;
      const t = tallies.get(key) ?? { minute, vendor, req: 0, ok: 0, bad: 0, spend: 0n, lat: [] };
      t.req++;
      if (i.success) t.ok++;
      else t.bad++;
      t.spend += amount;
      t.lat.push(42);
      tallies.set(key, t);
    }
    for (const t of tallies.values()) {
      await client.query(
        `INSERT INTO rollup_pending (kind, tenant_id, entity_id, vendor_id, minute, total_requests, successful_requests, failed_requests,
                                     total_spend_atomic, latency_sum_ms, max_latency_ms, latencies)
         VALUES ('agent', '', $1, $2, $3, $4, $5, $6, $7, $8, 42, $9)`,
        [agentId, t.vendor, t.minute, t.req, t.ok, t.bad, t.spend.toString(), 42 * t.req, t.lat],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

export interface AlertRecord {
  id: string;
  agent_id: string;
  tenant_id: string;
  type: string;
  severity: string;
  state: string;
  message: string;
  data: Record<string, unknown>;
  fired_at: Date;
  resolved_at: Date | null;
}

export async function alertsOf(pool: pg.Pool, agentId: string): Promise<AlertRecord[]> {
  const { rows } = await pool.query<AlertRecord>(
    `SELECT id::text, agent_id, tenant_id, type, severity, state, message, data, fired_at, resolved_at FROM agent_alerts WHERE agent_id = $1 ORDER BY fired_at, id`,
    [agentId],
  );
  return rows;
}

/** The agent's alerts (of `type` only, when given) as "type:state" in firing order, for compact assertions. */
export async function states(pool: pg.Pool, agentId: string, type?: string): Promise<string[]> {
  return (await alertsOf(pool, agentId)).filter((a) => type === undefined || a.type === type).map((a) => `${a.type}:${a.state}`);
}
