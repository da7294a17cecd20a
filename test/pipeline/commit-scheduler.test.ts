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

function scheduler(answers: Map<number, { status: number; code: string }>, sinkUp: boolean): CommitScheduler<TestTicket> {
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
  };
  return new CommitScheduler(options);
}

/** Two gateway requests processed by one worker task, as the dispatcher would hand them over. */
function taskOf(source: string): { tickets: TestTicket[]; out: ReturnType<TaskProcessor['run']> } {
  const tickets: TestTicket[] = [];
  for (let id = 0; id < 2; id++) {
    const body = encodeJsonBatch([gatewayEvent({ source })]);
    const header = { endpoint: Endpoint.Ingest, kind: BodyKind.JsonBatch, gzip: false, bodyLength: body.length, signingPrefix: '', publicKey: null, signature: null, agentId: '', tenantId: 'acme', attributes: null };
    const position = ring.reserve(recordSize(header));
    const view = ring.payload(position);
    const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    buf.set(body, writeRecordHeader(buf, header));
    ring.publish(position);
    tickets.push({ id, position, bodyBytes: body.length, endpoint: Endpoint.Ingest, agentId: '' });
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
});
