/**
 * How request bodies should reach the worker threads: postMessage of a copy per body,
 * or a write into the shared ring and one message per batch of positions.
 *
 *   node dist/native-bench/ring-handoff.js [--count=100000] [--size=2048] [--batch=100]
 *        [--results=native-bench/results/ring-handoff.json] [--no-save]
 *
 * The ceiling is the ring work alone on one thread (reserve, copy in, publish, release):
 * what the handoff would cost if crossing to the worker were free. Every mode keeps the
 * same bound on bodies in flight (what the ring can hold), so none wins by queueing more.
 * Each figure is the median of three rounds; the previous run's figures, kept as JSON,
 * are printed beside them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RECORD_HEADER_BYTES, RingBuffer } from '../src/ring/index.js';

const RING_BYTES = 16 * 1024 * 1024;
/** The copy modes acknowledge every this many bodies, so acks cost about what a ring batch reply costs. */
const COPY_ACK_EVERY = 100;
const ROUNDS = 3;

type ModeName = 'ceiling' | 'copy' | 'transfer' | 'ring';
interface Figure {
  opsPerSec: number;
  mbPerSec: number;
}
interface ResultsFile {
  date: string;
  node: string;
  count: number;
  size: number;
  batch: number;
  results: Partial<Record<ModeName, Figure>>;
}

const LABELS: Record<ModeName, string> = {
  ceiling: 'ceiling: ring write+release, no thread hop',
  copy: '(a) postMessage(copied Buffer)',
  transfer: "(a') postMessage(copy, transferred)",
  ring: '(b) ring + positions batched',
};

// ---------------------------------------------------------------- worker side

/** Reads one byte per cache line: pulls the body into this core as a decoder would, without decoding. */
function touch(bytes: Uint8Array, start: number, length: number): number {
  let sum = 0;
  const end = start + length;
  for (let i = start; i < end; i += 64) sum = (sum + (bytes[i] as number)) | 0;
  return sum;
}

function runWorker(): void {
  const port = parentPort;
  if (port === null) throw new Error('ring-handoff worker started without a parent port');
  const ring = RingBuffer.attach((workerData as { buffer: SharedArrayBuffer }).buffer);
  const bytes = ring.bytes;
  let sink = 0;
  let unacked = 0;
  port.on('message', (msg: unknown) => {
    if (msg instanceof Uint8Array) {
      sink ^= touch(msg, 0, msg.byteLength);
      if (++unacked === COPY_ACK_EVERY) {
        port.postMessage(unacked);
        unacked = 0;
      }
    } else if (Array.isArray(msg)) {
      const positions = msg as number[];
      for (let i = 0; i < positions.length; i++) {
        const p = positions[i] as number;
        // payloadLength() does the Atomics.load of the state that makes the bytes visible here.
        sink ^= touch(bytes, ring.payloadOffset(p), ring.payloadLength(p));
      }
      // The positions go back as the acknowledgement: the main thread releases them.
      port.postMessage(positions);
    } else if (msg === 'flush') {
      port.postMessage(unacked);
      unacked = 0;
    } else if (msg === 'sink') {
      port.postMessage({ sink });
    }
  });
}

// ---------------------------------------------------------------- main side

/** One place the main thread parks until the worker's next acknowledgement arrives. */
class Acks {
  private wake: (() => void) | null = null;
  handler: (msg: unknown) => void = () => {};

  constructor(worker: Worker) {
    worker.on('message', (msg: unknown) => {
      this.handler(msg);
      const wake = this.wake;
      this.wake = null;
      wake?.();
    });
  }

  next(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
}

async function runCopy(worker: Worker, acks: Acks, source: Uint8Array, count: number, window: number, transfer: boolean): Promise<number> {
  let acked = 0;
  acks.handler = (msg) => {
    if (typeof msg === 'number') acked += msg;
  };
  const start = performance.now();
  for (let sent = 0; sent < count; sent++) {
    while (sent - acked >= window) await acks.next();
    if (transfer) {
      // Its own ArrayBuffer (Buffer.from would use the shared pool, which cannot be transferred).
      const copy = new Uint8Array(source.byteLength);
      copy.set(source);
      worker.postMessage(copy, [copy.buffer]);
    } else {
      // uWS reuses its chunk memory after the callback, so a body must be copied out first.
      worker.postMessage(Buffer.from(source));
    }
  }
  worker.postMessage('flush');
  while (acked < count) await acks.next();
  return performance.now() - start;
}

async function runRing(worker: Worker, acks: Acks, ring: RingBuffer, source: Uint8Array, count: number, batchSize: number): Promise<number> {
  let acked = 0;
  acks.handler = (msg) => {
    if (!Array.isArray(msg)) return;
    const positions = msg as number[];
    for (let i = 0; i < positions.length; i++) ring.release(positions[i] as number);
    acked += positions.length;
  };
  let batch: number[] = [];
  const start = performance.now();
  for (let sent = 0; sent < count; ) {
    const p = ring.reserve(source.byteLength);
    if (p < 0) {
      // Full: everything reserved is already sent or about to be, so an ack will come.
      if (batch.length > 0) {
        worker.postMessage(batch);
        batch = [];
      }
      await acks.next();
      continue;
    }
    ring.bytes.set(source, ring.payloadOffset(p));
    ring.publish(p);
    batch.push(p);
    sent++;
    if (batch.length === batchSize) {
      worker.postMessage(batch);
      batch = [];
    }
  }
  if (batch.length > 0) worker.postMessage(batch);
  while (acked < count) await acks.next();
  return performance.now() - start;
}

function runCeiling(ring: RingBuffer, source: Uint8Array, count: number): number {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const p = ring.reserve(source.byteLength);
    ring.bytes.set(source, ring.payloadOffset(p));
    ring.publish(p);
    ring.release(p);
  }
  return performance.now() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function readPrevious(path: string): ResultsFile | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      size: { type: 'string', default: '2048' },
      batch: { type: 'string', default: '100' },
      results: { type: 'string', default: 'native-bench/results/ring-handoff.json' },
      'no-save': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const size = Number(values.size);
  const batchSize = Number(values.batch);
  const ring = RingBuffer.create(RING_BYTES);
  if (!(count > 0 && size >= 0 && size <= ring.maxRecordBytes && batchSize > 0)) {
    throw new Error(`bad arguments: count=${values.count} size=${values.size} (max ${ring.maxRecordBytes}) batch=${values.batch}`);
  }
  const stride = (RECORD_HEADER_BYTES + size + 15) & ~15;
  const window = Math.floor(RING_BYTES / stride);
  const source = new Uint8Array(size);
  for (let i = 0; i < size; i++) source[i] = (i * 31 + 7) & 0xff;

  const worker = new Worker(new URL(import.meta.url), { workerData: { buffer: ring.buffer } });
  const acks = new Acks(worker);
  await new Promise<void>((resolve, reject) => {
    worker.once('online', resolve);
    worker.once('error', reject);
  });

  const run = async (mode: ModeName, n: number): Promise<number> => {
    switch (mode) {
      case 'ceiling':
        return runCeiling(ring, source, n);
      case 'copy':
        return runCopy(worker, acks, source, n, window, false);
      case 'transfer':
        return runCopy(worker, acks, source, n, window, true);
      case 'ring':
        return runRing(worker, acks, ring, source, n, batchSize);
    }
  };
  const modes = Object.keys(LABELS) as ModeName[];

  // Warm-up: let every path reach optimised code before anything is timed.
  for (const mode of modes) await run(mode, Math.max(1000, Math.floor(count / 10)));

  // Rounds interleave the modes so drift on a shared machine hits them all alike.
  const times: Record<ModeName, number[]> = { ceiling: [], copy: [], transfer: [], ring: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) times[mode].push(await run(mode, count));
  }
  worker.postMessage('sink');
  await acks.next();
  await worker.terminate();
  if (ring.usedBytes() !== 0) throw new Error(`ring not drained: ${ring.usedBytes()} bytes still reserved`);

  const results: Partial<Record<ModeName, Figure>> = {};
  for (const mode of modes) {
    const seconds = median(times[mode]) / 1000;
    results[mode] = { opsPerSec: Math.round(count / seconds), mbPerSec: Math.round((count * size) / seconds / 1e5) / 10 };
  }

  const previous = values['no-save'] ? null : readPrevious(values.results);
  const ceiling = results.ceiling as Figure;
  console.log(`ring-handoff: ${count} bodies x ${size} B, ring ${RING_BYTES >> 20} MiB (${window} in flight), ${batchSize} positions/message, median of ${ROUNDS}`);
  console.log(`${'mode'.padEnd(44)}${'ops/s'.padStart(12)}${'MB/s'.padStart(10)}${'of ceiling'.padStart(12)}${'last ops/s'.padStart(14)}`);
  for (const mode of modes) {
    const f = results[mode] as Figure;
    const last = previous?.results[mode]?.opsPerSec;
    console.log(
      `${LABELS[mode].padEnd(44)}${f.opsPerSec.toLocaleString('en-US').padStart(12)}${f.mbPerSec.toFixed(1).padStart(10)}` +
        `${`${((100 * f.opsPerSec) / ceiling.opsPerSec).toFixed(1)}%`.padStart(12)}${(last === undefined ? '-' : last.toLocaleString('en-US')).padStart(14)}`,
    );
  }
  const ringVsCopy = (results.ring as Figure).opsPerSec / (results.copy as Figure).opsPerSec;
  console.log(`ring / postMessage(copy): ${ringVsCopy.toFixed(2)}x`);

  if (!values['no-save']) {
    const file: ResultsFile = { date: new Date().toISOString(), node: process.version, count, size, batch: batchSize, results };
    mkdirSync(dirname(values.results), { recursive: true });
    writeFileSync(values.results, `${JSON.stringify(file, null, 2)}\n`);
    console.log(`saved ${values.results}${previous === null ? '' : ` (previous run: ${previous.date})`}`);
  }
}

if (isMainThread) {
  await main();
} else {
  runWorker();
}
