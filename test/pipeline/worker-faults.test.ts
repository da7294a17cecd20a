import { Piscina } from 'piscina';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyKind } from '../../src/codec/index.js';
import { createMetrics } from '../../src/metrics.js';
import { AgentRegistry, IngestPipeline, type Ticket } from '../../src/pipeline/index.js';
import { recordSize, type TaskInput, type TaskOutput, type WorkerSettings, writeRecordHeader } from '../../src/pipeline/worker/index.js';
import { Endpoint } from '../../src/protocol/index.js';
import { RingBuffer } from '../../src/ring/index.js';
import { createPool, migrate, withClient } from '../../src/database/index.js';
import { PostgresCopySink } from '../../src/sinks/postgres/index.js';
import { encodeJsonBatch, gatewayEvent } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';

/**
 * A worker that throws or dies fails only its own requests, with 503, and the pool recovers;
 * and how requests are grouped into worker tasks.
 */

type TestTicket = Ticket & { id: number };
interface Harness {
  pipeline: IngestPipeline<TestTicket>;
  metrics: ReturnType<typeof createMetrics>;
  workers: Piscina<TaskInput, TaskOutput>;
}

let db: TestDatabase;
let pool: ReturnType<typeof createPool>;
const harnesses: Harness[] = [];
const log = pino({ level: 'silent' });
const ring = RingBuffer.create(4 * 1024 * 1024);
/** Set to 1 to release the fixture's HOLD tasks. */
const hold = new Int32Array(new SharedArrayBuffer(4));
const answers = new Map<number, { status: number; code: string }>();

/** One worker thread running the fixture, and a pipeline feeding it from `ring`. */
function startPipeline(tasks: { workers: number; maxTasksInFlight: number; dispatchBatchBytes: number }): Harness {
  const settings: WorkerSettings = { ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: false };
  const workers = new Piscina<TaskInput, TaskOutput>({
    filename: new URL('./fixtures/faulty-worker.mjs', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    workerData: { ...settings, hold },
  });
  const metrics = createMetrics();
  const pipeline = new IngestPipeline<TestTicket>({
    ring,
    pool: workers,
    sink: new PostgresCopySink(pool, false),
    agents: new AgentRegistry(pool, log),
    metrics,
    log,
    answer: (t, status, _body, code) => answers.set(t.id, { status, code }),
    onSinkUnavailable: () => undefined,
    isSinkUp: () => true,
    spool: null,
    onSpoolFull: () => undefined,
    spillPendingRows: 1_000_000,
    retryAfterSeconds: 1,
    ...tasks,
    copyBatchRows: 1000,
    copyConcurrency: 1,
    parallelCopyRows: 1,
    parallelCopyAfterMs: 5,
  });
  const h = { pipeline, metrics, workers };
  harnesses.push(h);
  return h;
}

beforeAll(async () => {
  db = await createTestDatabase('worker_faults');
  await withClient(db.url, (c) => migrate(c));
  pool = createPool(db.url, 2, log);
});

afterAll(async () => {
  for (const h of harnesses) await h.workers.destroy();
  await pool?.end();
  await db?.drop();
});

let nextId = 0;
/** Writes a gateway request into the ring as the HTTP route does, and submits it. */
function submit(pipeline: IngestPipeline<TestTicket>, body: Uint8Array): number {
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
    const { pipeline } = startPipeline({ workers: 1, maxTasksInFlight: 1, dispatchBatchBytes: 1 });
    const good = gatewayEvent();
    const a = submit(pipeline, encodeJsonBatch([good]));
    const thrown = submit(pipeline, encodeJsonBatch([gatewayEvent({ data: { route: '/THROW' } })]));
    const died = submit(pipeline, encodeJsonBatch([gatewayEvent({ data: { route: '/EXIT' } })]));
    const after = gatewayEvent();
    const b = submit(pipeline, encodeJsonBatch([after]));
    await pipeline.drained();

    expect(answers.get(a)).toEqual({ status: 202, code: '' });
    expect(answers.get(thrown)).toEqual({ status: 503, code: 'not_ready' });
    expect(answers.get(died)).toEqual({ status: 503, code: 'not_ready' });
    expect(answers.get(b)).toEqual({ status: 202, code: '' });
    const rows = await query<{ event_id: string }>(db.url, 'SELECT event_id FROM gateway_telemetry ORDER BY event_id');
    expect(rows.map((r) => r.event_id).sort()).toEqual([good.id, after.id].sort());
    expect(ring.usedBytes(), 'every record released').toBe(0);
  });

  it('dispatches at once while a worker is free, and forms a queued task only once enough waits', async () => {
    const { pipeline, metrics } = startPipeline({ workers: 1, maxTasksInFlight: 2, dispatchBatchBytes: 4 * 1024 * 1024 });
    const tasks = async (): Promise<number> => (await metrics.workerTasks.get()).values[0]?.value ?? 0;
    const ids = [submit(pipeline, encodeJsonBatch([gatewayEvent({ data: { route: '/HOLD' } })]))];
    expect(await tasks(), 'the free worker gets the first request at once').toBe(1);
    for (let i = 0; i < 15; i++) ids.push(submit(pipeline, encodeJsonBatch([gatewayEvent()])));
    expect(await tasks(), '15 small requests do not make a task that would only queue').toBe(1);
    ids.push(submit(pipeline, encodeJsonBatch([gatewayEvent()])));
    expect(await tasks(), 'the 16th does').toBe(2);
    ids.push(submit(pipeline, encodeJsonBatch([gatewayEvent()])));
    expect(await tasks()).toBe(2);

    Atomics.store(hold, 0, 1);
    Atomics.notify(hold, 0);
    await pipeline.drained();
    for (const id of ids) expect(answers.get(id)).toEqual({ status: 202, code: '' });
    const sizes = (await metrics.workerTaskRequests.get()).values.filter((v) => v.metricName?.endsWith('_sum'));
    expect(await tasks(), 'the last request went with the next free worker').toBe(3);
    expect(sizes[0]?.value).toBe(18);
  });
});
