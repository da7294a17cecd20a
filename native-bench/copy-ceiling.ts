/**
 * The sink ceiling: raw `psql \copy` of the rows the receiver would write, into the same
 * table definition (schema 001: partitions, primary key, both indexes), with fsync on, in a
 * database of the same PostgreSQL. The rows are made by the receiver's own codec from the
 * JSON batches the load generator sends, so their bytes (COPY binary, the sink's format for
 * this table) are byte for byte what the receiver's COPY carries. No staging table, no dedupe, no HTTP, no signatures: the most rows per second
 * this PostgreSQL takes on this machine.
 *
 * Used by the bench run (bench/run.ts); it needs a migrated database and the psql client.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AgentSet } from '../bench/agents.js';
import { jsonBatchRequest } from '../bench/request-bodies.js';
import { BodyKind, COPY_BINARY_HEADER, COPY_BINARY_TRAILER, COPY_COLUMNS, COPY_FORMATS, decodeAndEncode, RowBatch, type EventContext } from '../src/codec/index.js';
import { Endpoint } from '../src/protocol/index.js';

export interface CopyRun {
  streams: number;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  /** Rows per CPU-second of PostgreSQL (all its processes), when the caller can measure that: robust to other load on the machine. */
  rowsPerPgCpuSecond: number | null;
}

export interface CopyCeiling {
  rowsPerStream: number;
  runs: CopyRun[];
  /** The best of the runs: the ceiling. */
  rowsPerSec: number;
  /** The best rows per PostgreSQL CPU-second of the runs, or null. */
  rowsPerPgCpuSecond: number | null;
  /** Bytes of COPY data per row (what the sink moves). */
  bytesPerRow: number;
}

/**
 * A COPY file of `rows` interaction rows, built by the receiver's codec from bench request
 * bodies, in the format the sink sends them (COPY_FORMATS: binary, with its header and trailer).
 */
export function copyRows(rows: number, batchSize = 100): { data: Buffer; rows: number } {
  const agents = new AgentSet(64);
  const batch = new RowBatch(8 * 1024 * 1024);
  const ctx: EventContext = { endpoint: Endpoint.Agent, agentId: null, tenantId: null, maxEvents: 1000 };
  const chunks: Buffer[] = [];
  let made = 0;
  while (made < rows) {
    const req = jsonBatchRequest(agents, batchSize);
    ctx.agentId = req.headers['x-machpay-agent'] ?? null;
    const r = decodeAndEncode(req.body, BodyKind.JsonBatch, null, ctx, batch);
    if (!r.ok || r.accepted !== batchSize) throw new Error(`copy ceiling: the codec rejected a bench body: ${JSON.stringify(r)}`);
    made += batchSize;
    if (batch.byteLength > 4 * 1024 * 1024) {
      chunks.push(Buffer.from(batch.interactions.bytes()));
      batch.reset();
    }
  }
  chunks.push(Buffer.from(batch.interactions.bytes()));
  const rowsData = Buffer.concat(chunks);
  const data = COPY_FORMATS.agent_interactions === 'binary' ? Buffer.concat([COPY_BINARY_HEADER, rowsData, COPY_BINARY_TRAILER]) : rowsData;
  return { data, rows: made };
}

function psqlCopy(psql: string, databaseUrl: string, file: string): Promise<void> {
  const cols = COPY_COLUMNS.agent_interactions.join(', ');
  const format = COPY_FORMATS.agent_interactions === 'binary' ? ' WITH (FORMAT binary)' : '';
  return new Promise((resolve, reject) => {
    const child = spawn(psql, [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `\\copy agent_interactions (${cols}) FROM '${file}'${format}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`psql \\copy failed (exit ${code}): ${err.trim()}`));
    });
    child.once('error', reject);
  });
}

/**
 * Copies `rowsPerStream` rows with 1 and then `maxStreams` psql processes at once (each its
 * own rows, so nothing conflicts), and reports each and the best.
 */
export async function measureCopyCeiling(opts: {
  psql: string;
  databaseUrl: string;
  rowsPerStream: number;
  maxStreams: number;
  /** CPU seconds PostgreSQL has used so far (all its processes), if the caller can read it. */
  postgresCpuSeconds?: () => number;
}): Promise<CopyCeiling> {
  const dir = mkdtempSync(join(tmpdir(), 'machpay-copy-ceiling-'));
  try {
    const streamCounts = opts.maxStreams > 1 ? [1, opts.maxStreams] : [1];
    const runs: CopyRun[] = [];
    let bytesPerRow = 0;
    for (const streams of streamCounts) {
      const files: string[] = [];
      let rows = 0;
      for (let s = 0; s < streams; s++) {
        const { data, rows: n } = copyRows(opts.rowsPerStream);
        const file = join(dir, `rows-${streams}-${s}.copy`);
        writeFileSync(file, data);
        files.push(file);
        rows += n;
        bytesPerRow = data.length / n;
      }
      // Let backends of earlier connections finish exiting first (see below).
      if (opts.postgresCpuSeconds !== undefined) await new Promise((r) => setTimeout(r, 300));
      const cpuBefore = opts.postgresCpuSeconds?.() ?? null;
      const start = performance.now();
      await Promise.all(files.map((f) => psqlCopy(opts.psql, opts.databaseUrl, f)));
      const seconds = (performance.now() - start) / 1000;
      // psql has exited, but its backend may still be exiting: once the postmaster has reaped
      // it, its CPU time is counted in the postmaster's children time instead of being missed.
      if (cpuBefore !== null) await new Promise((r) => setTimeout(r, 300));
      const cpu = cpuBefore === null ? null : (opts.postgresCpuSeconds?.() ?? cpuBefore) - cpuBefore;
      runs.push({
        streams,
        rows,
        seconds: Math.round(seconds * 100) / 100,
        rowsPerSec: Math.round(rows / seconds),
        rowsPerPgCpuSecond: cpu === null || cpu <= 0 ? null : Math.round(rows / cpu),
      });
      for (const f of files) rmSync(f, { force: true });
    }
    const perCpu = runs.map((r) => r.rowsPerPgCpuSecond).filter((v): v is number => v !== null);
    return {
      rowsPerStream: opts.rowsPerStream,
      runs,
      rowsPerSec: Math.max(...runs.map((r) => r.rowsPerSec)),
      rowsPerPgCpuSecond: perCpu.length === 0 ? null : Math.max(...perCpu),
      bytesPerRow: Math.round(bytesPerRow),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
