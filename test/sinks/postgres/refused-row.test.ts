import { afterAll, beforeAll, expect, it } from 'vitest';
import { interactionEvent, gatewayEvent, newAgent, type TestAgent } from '../../helpers/agent.js';
import { createMigratedDatabase, type MigratedDatabase } from '../../helpers/postgres.js';
import { pipeline, task, type TestRequest } from './support.js';

/**
 * A row PostgreSQL refuses fails only its own request (docs/protocol.md §6, `not_storable`):
 * the sink splits the batch by request until the refusal is down to the offending request,
 * commits the others, and that request alone is answered 422. Validation lets no such row
 * through today, so the refusal comes from a real CHECK constraint added to the test
 * database: what PostgreSQL does for any value it will not store (SQLSTATE 23514 here; a
 * 22xxx data exception takes the same path).
 */

let d: MigratedDatabase;
const REFUSED_VENDOR = 'vendor-postgres-refuses';

beforeAll(async () => {
  d = await createMigratedDatabase('sink_refused_row');
  await d.pool.query(`ALTER TABLE agent_interactions ADD CONSTRAINT test_refused_vendor CHECK (vendor_id <> '${REFUSED_VENDOR}')`);
});
afterAll(async () => {
  await d?.close();
});

function agentRequest(agent: TestAgent, vendors: string[]): TestRequest {
  return { agent, events: vendors.map((vendor_id) => interactionEvent(agent.agentId, { data: { vendor_id } })) };
}

it('commits every other request of the batch once and answers only the offending one 422 not_storable', async () => {
  const p = pipeline(d.db.url);
  try {
    const agents = Array.from({ length: 6 }, () => newAgent());
    const bad = newAgent();
    // Three tasks: the first is written alone (nothing else waits yet); the second and the third
    // wait for it and then travel together in one COPY batch, which holds the refused row.
    const first = task([agentRequest(agents[0] as TestAgent, ['v-a', 'v-b'])]);
    // The second task also has a request the worker refuses (no valid event): no rows, no part.
    const stranger = newAgent();
    const invalid: TestRequest = { agent: stranger, events: [interactionEvent(stranger.agentId, { data: { latency_ms: -1 } })] };
    const second = task([
      agentRequest(agents[1] as TestAgent, ['v-a']),
      invalid,
      agentRequest(agents[2] as TestAgent, ['v-a', 'v-b', 'v-c']),
      agentRequest(bad, ['v-a', REFUSED_VENDOR, 'v-b']),
      agentRequest(agents[3] as TestAgent, ['v-c']),
    ]);
    const third = task([
      agentRequest(agents[4] as TestAgent, ['v-a', 'v-b']),
      { tenant: 'acme', events: [gatewayEvent({ source: 'https://gw.example/refused-row' }), gatewayEvent({ source: 'https://gw.example/refused-row' })] },
      agentRequest(agents[5] as TestAgent, ['v-d']),
    ]);
    expect([first, second, third].map((u) => u.out.statuses)).toEqual([[202], [202, 400, 202, 202, 202], [202, 202, 202]]);
    for (const u of [first, second, third]) p.scheduler.add(u);
    await p.answered(8);

    const badTicket = second.all[3];
    for (const t of [...first.tickets, ...second.tickets, ...third.tickets]) {
      const a = p.answers.get(t.id);
      if (t === badTicket) {
        expect(a).toMatchObject({ status: 422, code: 'not_storable' });
        expect(JSON.parse(a?.body ?? '')).toEqual({ error: { code: 'not_storable', message: expect.stringContaining('23514') } });
      } else {
        expect(a).toMatchObject({ status: 202, code: '' });
      }
    }

    // Stored once each; nothing of the refused request, not even its good events.
    const rows = await d.pool.query<{ agent_id: string; n: number }>('SELECT agent_id, count(*)::int AS n FROM agent_interactions GROUP BY agent_id');
    const stored = new Map(rows.rows.map((r) => [r.agent_id, r.n]));
    expect(stored).toEqual(new Map(agents.map((a, i) => [a.agentId, [2, 1, 3, 1, 2, 1][i]])));
    const keys = await d.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM agent_interaction_keys');
    expect(keys.rows[0]?.n).toBe(10);
    const gateway = await d.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM gateway_telemetry WHERE event_source = 'https://gw.example/refused-row'");
    expect(gateway.rows[0]?.n).toBe(2);

    // The rollups count exactly what was stored.
    const tallies = await d.pool.query<{ kind: string; n: number }>('SELECT kind, sum(total_requests)::int AS n FROM rollup_pending GROUP BY kind ORDER BY kind');
    expect(tallies.rows).toEqual([
      { kind: 'agent', n: 10 },
      { kind: 'gateway', n: 2 },
    ]);
    const badRows = await d.pool.query('SELECT 1 FROM rollup_pending WHERE entity_id = $1', [bad.agentId]);
    expect(badRows.rows).toHaveLength(0);
  } finally {
    await p.pool.end();
  }
});

it('answers 422 when the refused request is alone in its batch', async () => {
  const p = pipeline(d.db.url);
  try {
    const agent = newAgent();
    const unit = task([agentRequest(agent, [REFUSED_VENDOR])]);
    p.scheduler.add(unit);
    await p.answered(1);
    expect(p.answers.get(unit.all[0]?.id as number)).toMatchObject({ status: 422, code: 'not_storable' });
    const rows = await d.pool.query('SELECT 1 FROM agent_interactions WHERE agent_id = $1', [agent.agentId]);
    expect(rows.rows).toHaveLength(0);
  } finally {
    await p.pool.end();
  }
});
