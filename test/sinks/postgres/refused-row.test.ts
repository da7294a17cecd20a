import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER, COPY_COLUMNS } from '../../../src/codec/index.js';
import { encodeBatch, SpoolReplayer } from '../../../src/pipeline/index.js';
import { emptyBatch, PostgresCopySink, type CopyBatch } from '../../../src/sinks/postgres/index.js';
import { Spool } from '../../../src/sinks/spool/index.js';
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

    // The metrics count what was committed: two transactions, one of them split; 10 + 2 events acknowledged.
    const batches = (await p.metrics.copyBatches.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(new Map(batches as [string, number][])).toEqual(new Map([['committed', 1], ['committed_refusing_some', 1]]));
    const acknowledged = (await p.metrics.eventsAcknowledged.get()).values.reduce((n, v) => n + v.value, 0);
    expect(acknowledged).toBe(12);
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

/** The rows of `units` as the spool keeps them: no requests, no groups, no key rows. */
function spooledBatch(units: ReturnType<typeof task>[]): CopyBatch {
  const b = emptyBatch();
  for (const { out } of units) {
    if (out.interactionRows > 0) b.chunks.agent_interactions.push(out.interactions);
    b.rows.agent_interactions += out.interactionRows;
    if (out.gatewayRows > 0) b.chunks.gateway_telemetry.push(out.gateway);
    b.rows.gateway_telemetry += out.gatewayRows;
  }
  b.groups = null;
  return b;
}

it('replays a spooled batch holding a refused row: the rest is stored, the row is set aside in refused_rows, the spool moves on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sink-refused-spool-'));
  const log = pino({ level: 'silent' });
  const spool = await Spool.open({ dir, maxBytes: 1 << 26, segmentBytes: 1 << 22 }, log);
  const p = pipeline(d.db.url);
  try {
    const good = newAgent();
    const bad = newAgent();
    const first = task([agentRequest(good, ['v-a', 'v-b']), agentRequest(bad, ['v-a', REFUSED_VENDOR, 'v-b'])]);
    const second = task([{ tenant: 'acme', events: [gatewayEvent({ source: 'https://gw.example/refused-spool' })] }, agentRequest(good, ['v-c'])]);
    const after = task([agentRequest(good, ['v-d'])]);
    expect(await spool.append(encodeBatch(spooledBatch([first, second])))).toBe('ok');
    expect(await spool.append(encodeBatch(spooledBatch([after])))).toBe('ok');

    const replayer = new SpoolReplayer(spool, new PostgresCopySink(p.pool), () => true, () => undefined, log);
    expect(await replayer.replayNow()).toMatchObject({ batches: 2, end: 'empty' });
    expect(spool.stats().records).toBe(0);

    const stored = await d.pool.query<{ agent_id: string; n: number }>('SELECT agent_id, count(*)::int AS n FROM agent_interactions WHERE agent_id = ANY($1) GROUP BY agent_id', [[good.agentId, bad.agentId]]);
    expect(new Map(stored.rows.map((r) => [r.agent_id, r.n]))).toEqual(new Map([[good.agentId, 4], [bad.agentId, 2]]));
    const gateway = await d.pool.query("SELECT 1 FROM gateway_telemetry WHERE event_source = 'https://gw.example/refused-spool'");
    expect(gateway.rows).toHaveLength(1);
    const setAside = await d.pool.query<{ table_name: string; copy_format: string; sql_state: string; row_data: Buffer }>('SELECT table_name, copy_format, sql_state, row_data FROM refused_rows');
    expect(setAside.rows.map(({ row_data: _, ...r }) => r)).toEqual([{ table_name: 'agent_interactions', copy_format: 'binary', sql_state: '23514' }]);

    // Once PostgreSQL takes the value, the row goes back in as it was kept.
    await d.pool.query('ALTER TABLE agent_interactions DROP CONSTRAINT test_refused_vendor');
    const c = await d.pool.connect();
    try {
      await new Promise<void>((resolve, reject) => {
        const stream = c.query(copyFrom(`COPY agent_interactions (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN (FORMAT binary)`));
        stream.on('error', reject);
        stream.on('finish', resolve);
        stream.end(Buffer.concat([COPY_BINARY_HEADER, setAside.rows[0]?.row_data as Buffer, COPY_BINARY_TRAILER]));
      });
    } finally {
      c.release();
    }
    const restored = await d.pool.query('SELECT 1 FROM agent_interactions WHERE agent_id = $1 AND vendor_id = $2', [bad.agentId, REFUSED_VENDOR]);
    expect(restored.rows).toHaveLength(1);
  } finally {
    await p.pool.end();
    await spool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
