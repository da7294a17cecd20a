import pino from 'pino';
import { BodyKind } from '../../../src/codec/index.js';
import { createPool } from '../../../src/database/index.js';
import { createMetrics } from '../../../src/metrics.js';
import { AgentRegistry, CommitScheduler, type CommitUnit, type Ticket } from '../../../src/pipeline/index.js';
import { recordSize, TaskProcessor, writeRecordHeader, type RecordHeader, type TaskOutput } from '../../../src/pipeline/worker/index.js';
import { Endpoint, ENDPOINTS, signingPrefix } from '../../../src/protocol/index.js';
import { RingBuffer } from '../../../src/ring/index.js';
import { PostgresCopySink } from '../../../src/sinks/postgres/index.js';
import { encodeJsonBatch, signAgentRequest, type CloudEvent, type TestAgent } from '../../helpers/agent.js';

/**
 * The ingest path from a worker task to PostgreSQL without HTTP: requests laid out in a ring
 * as the route writes them, a real TaskProcessor (rollup groups on), and the real
 * CommitScheduler and PostgresCopySink on a real database.
 */

export type TestTicket = Ticket & { id: number };
export interface Answer {
  status: number;
  code: string;
  body: string;
}

const ring = RingBuffer.create(1 << 22);
const processor = new TaskProcessor({ ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: true });
let nextTicket = 0;

/**
 * A request as the HTTP route hands it to a worker: an agent's signed JSON batch, a gateway's
 * batch under `tenant`, or a record laid out by the test itself (binary mode).
 */
export type TestRequest =
  | { agent: TestAgent; events: CloudEvent[] }
  | { tenant: string; events: CloudEvent[] }
  | { record: Omit<RecordHeader, 'bodyLength'>; body: Uint8Array };

function publish(request: TestRequest): TestTicket {
  let body: Uint8Array;
  let header: RecordHeader;
  if ('record' in request) {
    body = request.body;
    header = { ...request.record, bodyLength: body.length };
  } else if ('agent' in request) {
    body = encodeJsonBatch(request.events);
    const headers = signAgentRequest(request.agent, body, { signer: 'node' });
    header = {
      endpoint: Endpoint.Agent,
      kind: BodyKind.JsonBatch,
      gzip: false,
      bodyLength: body.length,
      signingPrefix: signingPrefix(headers['x-machpay-timestamp'], ENDPOINTS[Endpoint.Agent].path),
      publicKey: request.agent.publicKey,
      signature: Buffer.from(headers['x-machpay-signature'], 'base64'),
      agentId: request.agent.agentId,
      tenantId: '',
      attributes: null,
    };
  } else {
    body = encodeJsonBatch(request.events);
    header = { endpoint: Endpoint.Ingest, kind: BodyKind.JsonBatch, gzip: false, bodyLength: body.length, signingPrefix: '', publicKey: null, signature: null, agentId: '', tenantId: request.tenant, attributes: null };
  }
  const position = ring.reserve(recordSize(header));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  buf.set(body, writeRecordHeader(buf, header));
  ring.publish(position);
  const agentId = header.endpoint === Endpoint.Agent ? header.agentId : '';
  return { id: nextTicket++, position, bodyBytes: body.length, endpoint: header.endpoint, agentId };
}

/** One worker task over `requests`, as a commit unit of its accepted requests. */
export function task(requests: readonly TestRequest[]): CommitUnit<TestTicket> & { all: TestTicket[] } {
  const all = requests.map(publish);
  const out: TaskOutput = processor.run({ positions: all.map((t) => t.position) });
  const indices = out.statuses.flatMap((s, i) => (s === 202 ? [i] : []));
  return { out, tickets: indices.map((i) => all[i] as TestTicket), indices, all };
}

export interface Pipeline {
  scheduler: CommitScheduler<TestTicket>;
  metrics: ReturnType<typeof createMetrics>;
  answers: Map<number, Answer>;
  /** Resolves once `n` requests have been answered. */
  answered(n: number): Promise<void>;
}

/** A commit scheduler whose sink tallies rollups, on a pool of its own (end it with `pool.end()`). */
export function pipeline(url: string): Pipeline & { pool: ReturnType<typeof createPool> } {
  const log = pino({ level: 'silent' });
  const pool = createPool(url, 2, log);
  const answers = new Map<number, Answer>();
  const metrics = createMetrics();
  const scheduler = new CommitScheduler<TestTicket>({
    sink: new PostgresCopySink(pool),
    agents: new AgentRegistry(pool, log),
    metrics,
    log,
    finish: (t, status, body, code) => {
      answers.set(t.id, { status, code, body });
      ring.release(t.position);
    },
    onSinkUnavailable: () => undefined,
    isSinkUp: () => true,
    spool: null,
    onSpoolFull: () => undefined,
    spillPendingRows: 1_000_000,
    copyBatchRows: 100_000,
    copyConcurrency: 1,
    parallelCopyRows: 1_000_000,
    parallelCopyAfterMs: 60_000,
  });
  return {
    scheduler,
    metrics,
    answers,
    pool,
    async answered(n) {
      for (let i = 0; i < 1000 && answers.size < n; i++) await new Promise((r) => setTimeout(r, 10));
      if (answers.size < n) throw new Error(`${answers.size} of ${n} requests answered`);
    },
  };
}
