import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyKind } from '../../src/codec/index.js';
import { createPool, migrate, withClient } from '../../src/database/index.js';
import { createMetrics } from '../../src/metrics.js';
import { AgentRegistry, CommitScheduler, type CommitSchedulerOptions, type Ticket } from '../../src/pipeline/index.js';
import { recordSize, TaskProcessor, writeRecordHeader } from '../../src/pipeline/worker/index.js';
import { Endpoint } from '../../src/protocol/index.js';
import { RingBuffer } from '../../src/ring/index.js';
import { PostgresCopySink } from '../../src/sinks/postgres/index.js';
import { encodeJsonBatch, gatewayEvent } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';

/** The commit side on its own: worker output in, COPY transactions out, answers only after commit. */

type TestTicket = Ticket & { id: number };

let db: TestDatabase;
let pool: ReturnType<typeof createPool>;
const log = pino({ level: 'silent' });
const ring = RingBuffer.create(1 << 20);
const processor = new TaskProcessor({ ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: false });

beforeAll(async () => {
  db = await createTestDatabase('commit_scheduler');
  await withClient(db.url, (c) => migrate(c));
  pool = createPool(db.url, 2, log);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

interface Hooks {
  agents: string[];
  commits: number;
  /** Answers given when each hook ran: the hooks run once the transaction committed. */
  answersAtCommit: number[];
}

function scheduler(answers: Map<number, { status: number; code: string }>, sinkUp: boolean, hooks?: Hooks): CommitScheduler<TestTicket> {
  const options: CommitSchedulerOptions<TestTicket> = {
    sink: new PostgresCopySink(pool, false),
    agents: new AgentRegistry(pool, log),
    metrics: createMetrics(),
    log,
    finish: (t, status, _body, code) => {
      answers.set(t.id, { status, code });
      ring.release(t.position);
    },
    onSinkUnavailable: () => undefined,
    isSinkUp: () => sinkUp,
    spool: null,
    onSpoolFull: () => undefined,
    spillPendingRows: 1_000_000,
    copyBatchRows: 1000,
    copyConcurrency: 1,
    parallelCopyRows: 1,
    parallelCopyAfterMs: 5,
    onAgentCommitted: hooks === undefined ? undefined : (agentId) => hooks.agents.push(agentId),
    onCommitted:
      hooks === undefined
        ? undefined
        : () => {
            hooks.commits++;
            hooks.answersAtCommit.push(answers.size);
          },
  };
  return new CommitScheduler(options);
}

/** Two gateway requests processed by one worker task, as the dispatcher would hand them over. */
function taskOf(source: string, agentIds?: readonly string[]): { tickets: TestTicket[]; out: ReturnType<TaskProcessor['run']> } {
  const tickets: TestTicket[] = [];
  for (let id = 0; id < 2; id++) {
    const body = encodeJsonBatch([gatewayEvent({ source })]);
    const header = { endpoint: Endpoint.Ingest, kind: BodyKind.JsonBatch, gzip: false, bodyLength: body.length, signingPrefix: '', publicKey: null, signature: null, agentId: '', tenantId: 'acme', attributes: null };
    const position = ring.reserve(recordSize(header));
    const view = ring.payload(position);
    const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    buf.set(body, writeRecordHeader(buf, header));
    ring.publish(position);
    // The scheduler reads only the ticket's endpoint and agent: `agentIds` makes these tickets
    // stand for agent requests (their rows are gateway rows, which the hooks do not look at).
    const agentId = agentIds?.[id];
    tickets.push({ id, position, bodyBytes: body.length, endpoint: agentId === undefined ? Endpoint.Ingest : Endpoint.Agent, agentId: agentId ?? '' });
  }
  return { tickets, out: processor.run({ positions: tickets.map((t) => t.position) }) };
}

async function settled(answers: Map<number, unknown>, n: number): Promise<void> {
  for (let i = 0; i < 500 && answers.size < n; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('CommitScheduler', () => {
  it('answers 202 once the rows are committed in PostgreSQL', async () => {
    const answers = new Map<number, { status: number; code: string }>();
    const { tickets, out } = taskOf('https://gw.example/committed');
    scheduler(answers, true).add({ out, tickets, indices: [0, 1] });
    await settled(answers, 2);
    expect([...answers.values()]).toEqual([
      { status: 202, code: '' },
      { status: 202, code: '' },
    ]);
    expect(await query(db.url, "SELECT event_id FROM gateway_telemetry WHERE event_source = 'https://gw.example/committed'")).toHaveLength(2);
  });

  it('refuses with 503 not_ready, storing nothing, while PostgreSQL is down and there is no spool', async () => {
    const answers = new Map<number, { status: number; code: string }>();
    const { tickets, out } = taskOf('https://gw.example/refused');
    scheduler(answers, false).add({ out, tickets, indices: [0, 1] });
    await settled(answers, 2);
    expect([...answers.values()]).toEqual([
      { status: 503, code: 'not_ready' },
      { status: 503, code: 'not_ready' },
    ]);
    expect(await query(db.url, "SELECT event_id FROM gateway_telemetry WHERE event_source = 'https://gw.example/refused'")).toHaveLength(0);
  });

  it('tells the alerts which agents a transaction committed, and wakes the stream once per transaction, before the 202s', async () => {
    const answers = new Map<number, { status: number; code: string }>();
    const hooks: Hooks = { agents: [], commits: 0, answersAtCommit: [] };
    const { tickets, out } = taskOf('https://gw.example/hooks', ['agent-hook-a', 'agent-hook-b']);
    scheduler(answers, true, hooks).add({ out, tickets, indices: [0, 1] });
    await settled(answers, 2);
    expect([...answers.values()].map((a) => a.status)).toEqual([202, 202]);
    expect(hooks).toEqual({ agents: ['agent-hook-a', 'agent-hook-b'], commits: 1, answersAtCommit: [0] });

    // Gateway requests touch no agent; a refused batch calls neither hook.
    const gateway = { agents: [], commits: 0, answersAtCommit: [] } satisfies Hooks;
    const g = taskOf('https://gw.example/hooks-gateway');
    scheduler(new Map(), true, gateway).add({ out: g.out, tickets: g.tickets, indices: [0, 1] });
    const refused: Hooks = { agents: [], commits: 0, answersAtCommit: [] };
    const r = taskOf('https://gw.example/hooks-refused', ['agent-hook-c', 'agent-hook-d']);
    const refusedAnswers = new Map<number, { status: number; code: string }>();
    scheduler(refusedAnswers, false, refused).add({ out: r.out, tickets: r.tickets, indices: [0, 1] });
    await settled(refusedAnswers, 2);
    for (let i = 0; i < 100 && gateway.commits === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(gateway).toMatchObject({ agents: [], commits: 1 });
    expect(refused).toEqual({ agents: [], commits: 0, answersAtCommit: [] });
  });
});
