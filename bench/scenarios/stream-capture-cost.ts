/**
 * What the live stream's row capture costs ingest (docs/read-api.md §4), on a real PostgreSQL:
 * the same COPY batches of interaction rows into tables shaped like agent_interactions
 * (partitioned, same primary key and indexes), one table per variant, interleaved batch by
 * batch so that noise on the machine falls on every variant alike.
 *
 *  - base, base_again: the table without the stream's column; their gap is the noise floor;
 *  - idle:          the column, its BRIN index and a default inlined from a SQL function whose
 *                   body is NULL: the table while no receiver has a subscriber (schema 011);
 *  - capturing:     the same with the body `txid_current()`: while someone subscribes;
 *  - idle_partial, capturing_partial: the same with the BRIN index partial (stream_xid IS NOT NULL);
 *  - idle_noindex:  idle without the index;
 *  - capturing_006: the default 006 put on every row, `pg_current_xact_id()::text::bigint`.
 *
 *   node dist/bench/scenarios/stream-capture-cost.js --database-url=URL [--batches=60] [--rows=5000]
 *        [--variants=base_again,idle,…] [--json=FILE]
 *
 * Figures: the backend's CPU (from /proc, so PostgreSQL must run on this machine) summed over
 * all batches, and the median wall time per COPY, each as a ratio to `base`.
 */
import { writeFileSync } from 'node:fs';
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

/** A default like 011's: a SQL function the planner inlines, here with each state's body. */
const inlined = (t: string, body: string, index = BRIN): string =>
  `CREATE OR REPLACE FUNCTION ${t}_xid() RETURNS BIGINT LANGUAGE sql STABLE AS '${body}';
   ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${t}_xid(); CREATE INDEX ON ${t} ${index};`;
const PARTIAL_BRIN = `${BRIN} WHERE stream_xid IS NOT NULL`;

const VARIANTS: readonly Variant[] = [
  { name: 'base', ddl: () => '' },
  { name: 'base_again', ddl: () => '' },
  { name: 'idle', ddl: (t) => inlined(t, 'SELECT NULL::bigint') },
  { name: 'idle_partial', ddl: (t) => inlined(t, 'SELECT NULL::bigint', PARTIAL_BRIN) },
  // The column and its default without any index: what the index's upkeep costs by itself.
  {
    name: 'idle_noindex',
    ddl: (t) => `CREATE OR REPLACE FUNCTION ${t}_xid() RETURNS BIGINT LANGUAGE sql STABLE AS 'SELECT NULL::bigint';
                 ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${t}_xid();`,
  },
  { name: 'capturing', ddl: (t) => inlined(t, 'SELECT txid_current()') },
  { name: 'capturing_partial', ddl: (t) => inlined(t, 'SELECT txid_current()', PARTIAL_BRIN) },
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

/** CPU ms (user + system) a PostgreSQL backend has used so far. */
function backendCpuMs(pid: number): number {
  return (cpuTicks(`/proc/${pid}/stat`) ?? 0) * 10;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export interface CaptureCostResult {
  batches: number;
  rows: number;
  variants: { name: string; cpuMs: number; cpuRatio: number; medianWallMs: number; wallRatio: number }[];
}

/** Runs every variant on a database of its own on `serverUrl` (a superuser URL), then drops it. */
/** `only`: the variants to run (base is always one of them); default all. */
export async function measureCaptureCost(serverUrl: string, batches: number, rows: number, only?: readonly string[]): Promise<CaptureCostResult> {
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
    const cpu = new Map<string, number>(variants.map((v) => [v.name, 0]));
    for (let b = 0; b < batches; b++) {
      const data = textRows(rows, b, agents);
      // The order rotates each batch so that no variant always follows another's checkpoint work.
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(b + k) % variants.length] as Variant;
        const c0 = backendCpuMs(pid);
        const t0 = performance.now();
        await copyIn(client, `COPY bench_${v.name} (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN`, data);
        wall.get(v.name)?.push(performance.now() - t0);
        cpu.set(v.name, (cpu.get(v.name) ?? 0) + backendCpuMs(pid) - c0);
      }
    }
    const baseCpu = cpu.get('base') ?? NaN;
    const baseWall = median(wall.get('base') ?? []);
    return {
      batches,
      rows,
      variants: variants.map((v) => {
        const c = cpu.get(v.name) ?? NaN;
        const w = median(wall.get(v.name) ?? []);
        return { name: v.name, cpuMs: c, cpuRatio: c / baseCpu, medianWallMs: w, wallRatio: w / baseWall };
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
      json: { type: 'string' },
    },
  });
  const url = values['database-url'];
  if (url === undefined) throw new Error('--database-url=postgres://… (a superuser URL of a PostgreSQL on this machine) is required');
  const r = await measureCaptureCost(url, Number(values.batches ?? 60), Number(values.rows ?? 5000), values.variants?.split(','));
  console.log(`${r.batches} COPY transactions × ${r.rows} rows per variant; ratios to base`);
  for (const v of r.variants) {
    console.log(`${v.name.padEnd(15)} backend CPU ${String(v.cpuMs).padStart(6)} ms (×${v.cpuRatio.toFixed(3)})  median wall ${v.medianWallMs.toFixed(1).padStart(6)} ms (×${v.wallRatio.toFixed(3)})`);
  }
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
