import type { KindCounts, LoadResult } from './load.js';
import { withClient } from '../src/database/index.js';
import type { RequestKind, TableName } from './request-bodies.js';

export interface TableAudit {
  /** Events acknowledged with a 202 (accepted count of the answers). */
  acknowledged: number;
  /** Events of requests that were not acknowledged (error answer, timeout, no answer): they may or may not be stored. */
  unacknowledged: number;
  stored: number;
  /** Distinct natural keys among the stored rows. */
  distinctKeys: number;
}

export interface AuditResult {
  tables: Partial<Record<TableName, TableAudit>>;
  /** Seconds after the scenario until every acknowledged event was stored (acknowledged through the spool: stored later). */
  catchUpS: number;
  /** Every acknowledged event is stored, none twice, and nothing stored that was never sent. */
  ok: boolean;
  problems: string[];
}

const TABLE_OF: Record<RequestKind, TableName> = {
  'json-batch': 'agent_interactions',
  'json-single': 'agent_interactions',
  'msgpack-batch': 'agent_interactions',
  'gzip-json-batch': 'agent_interactions',
  'gzip-msgpack-batch': 'agent_interactions',
  'binary-single': 'agent_interactions',
  'telemetry-batch': 'agent_telemetry',
  'gateway-batch': 'gateway_telemetry',
};

/**
 * After a scenario, compares what one target acknowledged with what its database holds.
 * The scenario's agents (and its gateway source) are fresh, so their rows are exactly the
 * scenario's rows.
 */
export async function auditRows(databaseUrl: string, runs: readonly LoadResult[], agentIds: readonly string[], gatewaySource: string | null): Promise<AuditResult> {
  const tables: Partial<Record<TableName, TableAudit>> = {};
  for (const run of runs) {
    // Events of a kind that were sent but not acknowledged, apportioned from the run totals per kind.
    for (const [kind, k] of Object.entries(run.byKind) as [RequestKind, KindCounts][]) {
      const t = (tables[TABLE_OF[kind]] ??= { acknowledged: 0, unacknowledged: 0, stored: 0, distinctKeys: 0 });
      t.acknowledged += k.acked;
      t.unacknowledged += Math.max(0, k.eventsSent - k.acked);
    }
  }
  // Events acknowledged through the receiver's spool reach PostgreSQL after the 202: wait for them (bounded).
  const started = Date.now();
  for (;;) {
    await countInto(databaseUrl, tables, agentIds, gatewaySource);
    const behind = Object.values(tables).some((t) => t.stored < t.acknowledged);
    if (!behind || Date.now() - started > CATCH_UP_LIMIT_MS) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const catchUpS = Math.round((Date.now() - started) / 100) / 10;
  const problems: string[] = [];
  for (const [name, t] of Object.entries(tables) as [TableName, TableAudit][]) {
    if (t.stored < t.acknowledged) problems.push(`${name}: ${t.acknowledged - t.stored} acknowledged events are not stored (after ${catchUpS} s)`);
    if (t.distinctKeys !== t.stored) problems.push(`${name}: ${t.stored - t.distinctKeys} events stored more than once`);
    if (t.stored > t.acknowledged + t.unacknowledged) problems.push(`${name}: ${t.stored - t.acknowledged - t.unacknowledged} rows more than events sent`);
  }
  return { tables, catchUpS, ok: problems.length === 0, problems };
}

const CATCH_UP_LIMIT_MS = 60_000;

/** Rows of these agents in agent_interactions now (for the rate of rows reaching PostgreSQL during a hold). */
export async function countInteractions(databaseUrl: string, agentIds: readonly string[]): Promise<number> {
  return withClient(databaseUrl, async (c) => {
    const r = await c.query('SELECT count(*) AS n FROM agent_interactions WHERE agent_id = ANY($1)', [[...agentIds]]);
    return (r.rows[0] as { n: number }).n;
  });
}

async function countInto(databaseUrl: string, tables: Partial<Record<TableName, TableAudit>>, agentIds: readonly string[], gatewaySource: string | null): Promise<void> {
  await withClient(databaseUrl, async (c) => {
    const ids = [...agentIds];
    if (tables.agent_interactions !== undefined) {
      const r = await c.query('SELECT count(*) AS n, count(DISTINCT (agent_id, nonce)) AS k FROM agent_interactions WHERE agent_id = ANY($1)', [ids]);
      const row = r.rows[0] as { n: number; k: number };
      tables.agent_interactions.stored = row.n;
      tables.agent_interactions.distinctKeys = row.k;
    }
    if (tables.agent_telemetry !== undefined) {
      const r = await c.query('SELECT count(*) AS n, count(DISTINCT (agent_id, time)) AS k FROM agent_telemetry WHERE agent_id = ANY($1)', [ids]);
      const row = r.rows[0] as { n: number; k: number };
      tables.agent_telemetry.stored = row.n;
      tables.agent_telemetry.distinctKeys = row.k;
    }
    if (tables.gateway_telemetry !== undefined && gatewaySource !== null) {
      const r = await c.query('SELECT count(*) AS n, count(DISTINCT event_id) AS k FROM gateway_telemetry WHERE event_source = $1', [gatewaySource]);
      const row = r.rows[0] as { n: number; k: number };
      tables.gateway_telemetry.stored = row.n;
      tables.gateway_telemetry.distinctKeys = row.k;
    }
  });
}
