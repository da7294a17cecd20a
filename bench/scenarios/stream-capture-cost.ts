/**
 * What the live stream's row capture costs ingest (docs/read-api.md §4), on a real PostgreSQL:
 * the same COPY batches of interaction rows into tables shaped like agent_interactions
 * (partitioned, same primary key and indexes), one table per variant, interleaved batch by
 * batch so that noise on the machine falls on every variant alike.
 *
 *  - base, base_again: the table without the stream's column; their gap is the noise floor;
 *  - idle:          the column, its partial BRIN index (stream_xid IS NOT NULL) and a default
 *                   inlined from a SQL function whose body is NULL: the table while no receiver
 *                   has a subscriber (schema 011 and 013);
 *  - capturing:     the same with the body `txid_current()`: while someone subscribes;
 *  - idle_full, capturing_full: the same with 006's BRIN index over every row (before 013);
 *  - idle_noindex:  idle without the index;
 *  - capturing_006: the default 006 put on every row, `pg_current_xact_id()::text::bigint`.
 *
 *   node dist/bench/scenarios/stream-capture-cost.js --database-url=URL [--batches=60] [--rows=5000]
 *        [--variants=base_again,idle,…] [--truncate-every=10] [--json=FILE]
 *
 * Figures: the backend's CPU time (from /proc/PID/schedstat, in nanoseconds, so PostgreSQL must
 * run on this machine) and the wall time per COPY, each as a ratio to `base`: the ratio of the
 * sums, and the median over rounds of each round's ratio (a round is one batch into every
 * variant, back to back; the median is what a checkpoint or another session's burst landing
 * on one round cannot move). Every `truncate-every` rounds all tables are emptied, so the
 * tables stay the same small size and no variant pays for evicting another's pages.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { COPY_COLUMNS } from '../../src/codec/index.js';
import { migrate } from '../../src/database/index.js';
import { newAgent } from '../../test/helpers/agent.js';
import { cpuTicks } from '../proc-sampler.js';
import { copyIn } from '../copy-in.js';

interface Variant {
  name: string;
  /** Run after the table exists: the column, its default and its index. */
  ddl: (table: string) => string;
}

const BRIN = 'USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on)';
/** 006's index, over every row. */
const FULL_BRIN = BRIN;
/** 013's index, over the rows captured while someone subscribed. */
const PARTIAL_BRIN = `${BRIN} WHERE stream_xid IS NOT NULL`;

/** A default like 011's: a SQL function the planner inlines, here with each state's body. */
const inlined = (t: string, body: string, index = PARTIAL_BRIN): string =>
  `CREATE OR REPLACE FUNCTION ${t}_xid() RETURNS BIGINT LANGUAGE sql STABLE AS '${body}';
   ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${t}_xid(); CREATE INDEX ON ${t} ${index};`;

const VARIANTS: readonly Variant[] = [
  { name: 'base', ddl: () => '' },
  { name: 'base_again', ddl: () => '' },
  { name: 'idle', ddl: (t) => inlined(t, 'SELECT NULL::bigint') },
  { name: 'idle_full', ddl: (t) => inlined(t, 'SELECT NULL::bigint', FULL_BRIN) },
  // The column and its default without any index: what the index's upkeep costs by itself.
  {
    name: 'idle_noindex',
    ddl: (t) => `CREATE OR REPLACE FUNCTION ${t}_xid() RETURNS BIGINT LANGUAGE sql STABLE AS 'SELECT NULL::bigint';
                 ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${t}_xid();`,
  },
  { name: 'capturing', ddl: (t) => inlined(t, 'SELECT txid_current()') },
  { name: 'capturing_full', ddl: (t) => inlined(t, 'SELECT txid_current()', FULL_BRIN) },
  {
    name: 'capturing_006',
    ddl: (t) => `ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT (pg_current_xact_id()::text::bigint); CREATE INDEX ON ${t} ${BRIN};`,
  },
];

function tableSql(t: string): string {
  // The migrated table has the stream's column already: each variant starts without it.
  return `DROP TABLE IF EXISTS ${t};
          CREATE TABLE ${t} (LIKE agent_interactions INCLUDING DEFAULTS) PARTITION BY RANGE (time);
          ALTER TABLE ${t} DROP COLUMN stream_xid;
          ALTER TABLE ${t} ADD PRIMARY KEY (time, agent_id, nonce);
          CREATE TABLE ${t}_default PARTITION OF ${t} DEFAULT;
          CREATE INDEX ON ${t} (agent_id, time DESC);
          CREATE INDEX ON ${t} (vendor_id, time DESC);`;
}

/** `rows` interaction rows as COPY text over 64 agents, unique keys per batch. */
function textRows(rows: number, batch: number, agents: readonly string[]): Buffer {
  const t = new Date(Date.UTC(2026, 0, 1) + batch * 60_000).toISOString();
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const n = batch * rows + i;
    lines.push(
      `${t}\t${agents[n % agents.length]}\tvendor-${n % 7}\thttps://api.example.com/v1/items/${n}\tGET\t${1000 + (n % 97)}\tEPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v\t${n}\tt\t${n % 300}\t\\N\t\\N\t\\N\n`,
    );
  }
  return Buffer.from(lines.join(''));
}

/**
 * CPU ms a PostgreSQL backend has used so far: schedstat's time on a CPU, in nanoseconds (the
 * stat file's user + system ticks are 10 ms each, as coarse as a whole COPY of a few thousand rows).
 */
function backendCpuMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return (cpuTicks(`/proc/${pid}/stat`) ?? 0) * 10;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export interface CaptureCostResult {
  batches: number;
  rows: number;
  variants: {
    name: string;
    cpuMs: number;
    /** Sum ÷ base's sum. */
    cpuRatio: number;
    /** Median over rounds of (this variant's CPU ÷ base's CPU in the same round). */
    cpuRoundRatio: number;
    medianWallMs: number;
    wallRatio: number;
    wallRoundRatio: number;
  }[];
}

/** Runs every variant on a database of its own on `serverUrl` (a superuser URL), then drops it. */
/** `only`: the variants to run (base is always one of them); default all. */
export async function measureCaptureCost(serverUrl: string, batches: number, rows: number, only?: readonly string[], truncateEvery = 10): Promise<CaptureCostResult> {
  const variants = VARIANTS.filter((v) => v.name === 'base' || only === undefined || only.includes(v.name));
  const dbName = `stream_capture_cost_${process.pid}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: u.toString(), max: 1 });
  pool.on('error', () => undefined);
  const client = await pool.connect();
  try {
    await migrate(client);
    for (const v of variants) await client.query(tableSql(`bench_${v.name}`) + v.ddl(`bench_${v.name}`));
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    const agents = Array.from({ length: 64 }, () => newAgent().agentId);
    const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const cpuRounds = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let b = 0; b < batches; b++) {
      if (truncateEvery > 0 && b % truncateEvery === 0) {
        await client.query(`TRUNCATE ${variants.map((v) => `bench_${v.name}`).join(', ')}; CHECKPOINT`);
      }
      const data = textRows(rows, b, agents);
      // The order rotates each batch so that no variant always follows another's checkpoint work.
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(b + k) % variants.length] as Variant;
        const c0 = backendCpuMs(pid);
        const t0 = performance.now();
        await copyIn(client, `COPY bench_${v.name} (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN`, data);
        // Indexed by round, whatever the variant's place in the rotation.
        (wall.get(v.name) as number[])[b] = performance.now() - t0;
        (cpuRounds.get(v.name) as number[])[b] = backendCpuMs(pid) - c0;
      }
    }
    const sum = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0);
    const roundRatio = (xs: readonly number[], base: readonly number[]): number => median(xs.map((x, i) => x / (base[i] as number)));
    const baseCpu = cpuRounds.get('base') ?? [];
    const baseWall = wall.get('base') ?? [];
    return {
      batches,
      rows,
      variants: variants.map((v) => {
        const c = cpuRounds.get(v.name) ?? [];
        const w = wall.get(v.name) ?? [];
        return {
          name: v.name,
          cpuMs: Math.round(sum(c)),
          cpuRatio: sum(c) / sum(baseCpu),
          cpuRoundRatio: roundRatio(c, baseCpu),
          medianWallMs: median(w),
          wallRatio: median(w) / median(baseWall),
          wallRoundRatio: roundRatio(w, baseWall),
        };
      }),
    };
  } finally {
    client.release();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      batches: { type: 'string' },
      rows: { type: 'string' },
      variants: { type: 'string' },
      'truncate-every': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const url = values['database-url'];
  if (url === undefined) throw new Error('--database-url=postgres://… (a superuser URL of a PostgreSQL on this machine) is required');
  const r = await measureCaptureCost(url, Number(values.batches ?? 60), Number(values.rows ?? 5000), values.variants?.split(','), Number(values['truncate-every'] ?? 10));
  console.log(`${r.batches} COPY transactions × ${r.rows} rows per variant; ratios to base (sums; median of per-round ratios)`);
  for (const v of r.variants) {
    console.log(
      `${v.name.padEnd(15)} backend CPU ${String(v.cpuMs).padStart(6)} ms (×${v.cpuRatio.toFixed(3)}; rounds ×${v.cpuRoundRatio.toFixed(3)})  ` +
        `median wall ${v.medianWallMs.toFixed(1).padStart(6)} ms (×${v.wallRatio.toFixed(3)}; rounds ×${v.wallRoundRatio.toFixed(3)})`,
    );
  }
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
