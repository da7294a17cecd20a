import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { unpackGroups } from '../../../src/codec/index.js';
import { emptyBatch, PostgresCopySink, type CopyBatch } from '../../../src/sinks/postgres/index.js';
import { interactionEvent, newAgent } from '../../helpers/agent.js';
import { createMigratedDatabase, type MigratedDatabase } from '../../helpers/postgres.js';
import { task } from './support.js';

/**
 * The COPY sink's direct path is one query, one round trip, whatever the batch holds: the
 * interactions' keys, the rows, the rollup tallies (COPY rollup_pending) and the new agents'
 * registration, with BEGIN and COMMIT in the same query.
 */

let d: MigratedDatabase;
/** Queries sent on the pool's connections (each one query is one round trip). */
let queries = 0;
beforeAll(async () => {
  d = await createMigratedDatabase('sink_direct_path');
  const counted = new WeakSet<pg.PoolClient>();
  d.pool.on('acquire', (client) => {
    if (counted.has(client)) return;
    counted.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries++;
      return query(...args);
    };
  });
});
afterAll(async () => {
  await d?.close();
});

/** A batch of two new agents' interactions, as the commit scheduler builds it from one task. */
function twoAgentBatch(): { batch: CopyBatch; agents: string[] } {
  const agents = [newAgent(), newAgent()];
  const unit = task(agents.map((agent) => ({ agent, events: [interactionEvent(agent.agentId), interactionEvent(agent.agentId), interactionEvent(agent.agentId)] })));
  const batch = emptyBatch();
  batch.chunks.agent_interactions.push(unit.out.interactions);
  batch.rows.agent_interactions = unit.out.interactionRows;
  batch.interactionKeys.push(unit.out.interactionKeys);
  batch.groups = [];
  unpackGroups(unit.out.groups, batch.groups);
  const ids = agents.map((a) => a.agentId).sort();
  batch.newAgents = ids;
  return { batch, agents: ids };
}

async function stored(agents: string[]): Promise<{ rows: number; keys: number; counted: number; registered: number }> {
  const r = await d.pool.query<{ rows: number; keys: number; counted: number; registered: number }>(
    `SELECT (SELECT count(*) FROM agent_interactions WHERE agent_id = ANY($1))::int AS rows,
            (SELECT count(*) FROM agent_interaction_keys WHERE agent_id = ANY($1))::int AS keys,
            (SELECT COALESCE(sum(total_requests), 0) FROM rollup_pending WHERE kind = 'agent' AND entity_id = ANY($1))::int AS counted,
            (SELECT count(*) FROM agents WHERE pubkey = ANY($1))::int AS registered`,
    [agents],
  );
  return r.rows[0] as { rows: number; keys: number; counted: number; registered: number };
}

it('writes keys, rows, tallies and new agents in one query, and a repeat of the batch changes nothing', async () => {
  const sink = new PostgresCopySink(d.pool);
  // The connection's first use creates its staging tables: one query of its own, once.
  await sink.write(emptyBatch());
  const { batch, agents } = twoAgentBatch();
  expect(batch.groups?.length).toBeGreaterThan(0);

  queries = 0;
  expect(await sink.write(batch)).toMatchObject({ ok: true, deduplicated: false, refused: [] });
  expect(queries).toBe(1);
  expect(await stored(agents)).toEqual({ rows: 6, keys: 6, counted: 6, registered: 2 });

  // The same batch again: its keys refuse it on the direct path, and the staged path stores
  // and counts nothing, in one query as well.
  queries = 0;
  expect(await sink.write(batch)).toMatchObject({ ok: true, deduplicated: true });
  expect(queries).toBe(3); // the refused direct query, its ROLLBACK, the staged query
  expect(await stored(agents)).toEqual({ rows: 6, keys: 6, counted: 6, registered: 2 });
});

it('registers an agent whose id needs quoting exactly as given', async () => {
  const batch = emptyBatch();
  const odd = ["o'brien\\x", 'tab\there'];
  batch.newAgents = odd;
  expect(await new PostgresCopySink(d.pool).write(batch)).toMatchObject({ ok: true });
  const r = await d.pool.query<{ pubkey: string }>('SELECT pubkey FROM agents WHERE pubkey = ANY($1) ORDER BY pubkey', [odd]);
  expect(r.rows.map((row) => row.pubkey)).toEqual([...odd].sort());
});
