import { Piscina } from 'piscina';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyKind } from '../../src/codec/index.js';
import { createMetrics } from '../../src/metrics.js';
import { AgentRegistry } from '../../src/pipeline/agent-registry.js';
import { IngestPipeline, type Ticket } from '../../src/pipeline/ingest-pipeline.js';
import type { TaskInput, TaskOutput, WorkerSettings } from '../../src/pipeline/process-task.js';
import { Endpoint, recordSize, writeRecordHeader } from '../../src/pipeline/request-record.js';
import { RingBuffer } from '../../src/ring/index.js';
import { createCopyPool, migrate, PostgresCopySink, withClient } from '../../src/sinks/postgres/index.js';
import { encodeJsonBatch, gatewayEvent } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';

/** A worker that throws or dies fails only its own requests, with 503, and the pool recovers. */

let db: TestDatabase;
let pool: ReturnType<typeof createCopyPool>;
let workers: Piscina<TaskInput, TaskOutput>;
const log = pino({ level: 'silent' });
const ring = RingBuffer.create(4 * 1024 * 1024);
const answers = new Map<number, { status: number; code: string }>();
let pipeline: IngestPipeline<Ticket & { id: number }>;

beforeAll(async () => {
  db = await createTestDatabase('worker_faults');
  await withClient(db.url, (c) => migrate(c));
  pool = createCopyPool(db.url, 2, log);
  const settings: WorkerSettings = { ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, agentKeyCacheSize: 16, rollups: false };
  workers = new Piscina({ filename: new URL('./fixtures/faulty-worker.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, workerData: settings });
  pipeline = new IngestPipeline({
    ring,
    pool: workers,
    sink: new PostgresCopySink(pool, false),
    agents: new AgentRegistry(pool, log),
    metrics: createMetrics(),
    log,
    answer: (t, status, _body, code) => answers.set(t.id, { status, code }),
    onInserted: () => undefined,
    onSinkUnavailable: () => undefined,
    isSinkUp: () => true,
    spool: null,
    onSpoolFull: () => undefined,
    spillPendingRows: 1_000_000,
    retryAfterSeconds: 1,
    dispatchBatchBytes: 1,
    maxTasksInFlight: 1,
    copyBatchRows: 1000,
    copyConcurrency: 1,
    parallelCopyRows: 1,
    parallelCopyAfterMs: 5,
  });
});

afterAll(async () => {
  await workers?.destroy();
  await pool?.end();
  await db?.drop();
});

let nextId = 0;
/** Writes a gateway request into the ring as the HTTP route does, and submits it. */
function submit(body: Uint8Array): number {
  const header = {
    endpoint: Endpoint.Ingest,
    kind: BodyKind.JsonBatch,
    gzip: false,
    bodyLength: body.length,
    signingPrefix: '',
    publicKey: null,
    signature: null,
    agentId: '',
    tenantId: 'acme',
    attributes: null,
  };
  const position = ring.reserve(recordSize(header));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  buf.set(body, writeRecordHeader(buf, header));
  ring.publish(position);
  const id = nextId++;
  pipeline.submit({ id, position, bodyBytes: body.length, endpoint: Endpoint.Ingest, agentId: '' });
  return id;
}

describe('worker faults', () => {
  it('answers 503 for a task that throws or whose worker dies, then serves again', async () => {
    const good = gatewayEvent();
    const a = submit(encodeJsonBatch([good]));
    const thrown = submit(encodeJsonBatch([gatewayEvent({ data: { route: '/THROW' } })]));
    const died = submit(encodeJsonBatch([gatewayEvent({ data: { route: '/EXIT' } })]));
    const after = gatewayEvent();
    const b = submit(encodeJsonBatch([after]));
    await pipeline.drained();

    expect(answers.get(a)).toEqual({ status: 202, code: '' });
    expect(answers.get(thrown)).toEqual({ status: 503, code: 'not_ready' });
    expect(answers.get(died)).toEqual({ status: 503, code: 'not_ready' });
    expect(answers.get(b)).toEqual({ status: 202, code: '' });
    const rows = await query<{ event_id: string }>(db.url, 'SELECT event_id FROM gateway_telemetry ORDER BY event_id');
    expect(rows.map((r) => r.event_id).sort()).toEqual([good.id, after.id].sort());
    expect(ring.usedBytes(), 'every record released').toBe(0);
  });
});
