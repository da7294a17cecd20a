/**
 * What the live stream's log column costs ingest (docs/read-api.md §4), on a real PostgreSQL.
 *
 * The stream reads committed rows by the id of the transaction that inserted them, so each
 * row carries that id in a column filled by a DEFAULT, with an index to find "rows of
 * transactions in [a, b)". This copies the same batches of interaction rows (COPY text) into
 * tables shaped like agent_interactions (partitioned, same primary key and indexes), one table per variant, interleaved batch by
 * batch so that noise on the machine falls on every variant alike:
 *
 *  - base:          the table as it is without the stream;
 *  - base_again:    the same table again: the gap between the two is the noise floor;
 *  - bigint_noindex: the column alone, without an index;
 *  - bigint_brin:   a BIGINT column DEFAULT the transaction id, BRIN index (what 006 adds);
 *  - bigint_btree:  the same column with a btree index instead;
 *  - xid8_btree:    an xid8 column (no cast), btree (xid8 has no BRIN operator class).
 *
 *   node dist/native-bench/stream-cost.js [--database-url=URL] [--batches=100] [--rows=5000]
 *
 * Without --database-url an embedded PostgreSQL is started in a temporary directory. Figures
 * are medians over the batches: wall ms per COPY transaction and the backend's CPU ms.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { COPY_COLUMNS } from '../src/codec/index.js';
import { migrate, openEmbeddedPostgres } from '../src/database/index.js';
import { newAgent } from '../test/helpers/agent.js';

interface Variant {
  name: string;
  /** Run after the table exists: the column and its index. */
  ddl: (table: string) => string;
}

const XID_BIGINT = `(pg_current_xact_id()::text::bigint)`;

const VARIANTS: Variant[] = [
  { name: 'base', ddl: () => '' },
  // The same table again: how far two identical variants differ is the noise floor.
  { name: 'base_again', ddl: () => '' },
  { name: 'bigint_noindex', ddl: (t) => `ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${XID_BIGINT};` },
  {
    name: 'bigint_brin',
    ddl: (t) =>
      `ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${XID_BIGINT};
       CREATE INDEX ON ${t} USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on);`,
  },
  {
    name: 'bigint_btree',
    ddl: (t) => `ALTER TABLE ${t} ADD COLUMN stream_xid BIGINT DEFAULT ${XID_BIGINT}; CREATE INDEX ON ${t} (stream_xid);`,
  },
  {
    name: 'xid8_btree',
    ddl: (t) => `ALTER TABLE ${t} ADD COLUMN stream_xid xid8 DEFAULT pg_current_xact_id(); CREATE INDEX ON ${t} (stream_xid);`,
  },
];

function tableSql(t: string): string {
  // The migrated table has the stream's column already: each variant starts without it.
  return `CREATE TABLE ${t} (LIKE agent_interactions INCLUDING DEFAULTS) PARTITION BY RANGE (time);
          ALTER TABLE ${t} DROP COLUMN stream_xid;
          ALTER TABLE ${t} ADD PRIMARY KEY (time, agent_id, nonce);
          CREATE TABLE ${t}_default PARTITION OF ${t} DEFAULT;
          CREATE INDEX ON ${t} (agent_id, time DESC);
          CREATE INDEX ON ${t} (vendor_id, time DESC);`;
}

/**
 * `rows` interaction rows as COPY text, over 64 agents, with unique nonces. Text rather than
 * the sink's binary format: the figure wanted is the column's and index's share of the
 * server's work, which does not depend on the wire format.
 */
function textRows(rows: number, batch: number, agents: readonly string[]): Buffer {
  let s = '';
  const t = new Date(Date.UTC(2026, 0, 1) + batch * 60_000).toISOString();
  for (let i = 0; i < rows; i++) {
    const n = batch * rows + i;
    s += `${t}\t${agents[n % agents.length]}\tvendor-${n % 7}\thttps://api.example.com/v1/items/${n}\tGET\t${1000 + (n % 97)}\tEPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v\t${n}\tt\t${n % 300}\t\\N\t\\N\t\\N\n`;
  }
  return Buffer.from(s);
}

function copyIn(client: pg.PoolClient, table: string, data: Buffer): Promise<void> {
  const sql = `COPY ${table} (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN`;
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(data);
  });
}

/** CPU ms (user + system) a PostgreSQL backend has used so far, from /proc (same machine only). */
function backendCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'database-url': { type: 'string' }, batches: { type: 'string' }, rows: { type: 'string' } },
  });
  const batches = Number(values.batches ?? 100);
  const rows = Number(values.rows ?? 5000);
  const log = pino({ level: 'warn' });
  let serverUrl = values['database-url'];
  let stopServer = async (): Promise<void> => undefined;
  let dataDir: string | null = null;
  if (serverUrl === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), 'machpay-stream-cost-'));
    // Run as root, the server runs as the postgres user, who must be able to enter the directory.
    chmodSync(dataDir, 0o755);
    const db = await openEmbeddedPostgres(dataDir, log, 'serve');
    serverUrl = db.url;
    stopServer = () => db.stop();
  }
  const dbName = `stream_cost_${process.pid}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: u.toString(), max: 1 });
  // DROP DATABASE … WITH (FORCE) ends any session still open; that is expected here.
  pool.on('error', () => undefined);
  const client = await pool.connect();
  try {
    await migrate(client);
    for (const v of VARIANTS) await client.query(tableSql(`bench_${v.name}`) + v.ddl(`bench_${v.name}`));
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    process.stdout.write(`building ${batches} batches of ${rows} rows… `);
    const data: Buffer[] = [];
    const agents = Array.from({ length: 64 }, () => newAgent().agentId);
    for (let b = 0; b < batches; b++) data.push(textRows(rows, b, agents));
    process.stdout.write('done\n');
    const wall = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    const cpu = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    for (let b = 0; b < batches; b++) {
      // Rotate the order each batch so no variant always runs right after another's checkpoint work.
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(b + k) % VARIANTS.length] as Variant;
        const c0 = backendCpuMs(pid);
        const t0 = performance.now();
        await copyIn(client, `bench_${v.name}`, data[b] as Buffer);
        wall.get(v.name)?.push(performance.now() - t0);
        cpu.get(v.name)?.push(backendCpuMs(pid) - c0);
      }
    }
    const base = median(wall.get('base') ?? []);
    const baseCpuTotal = (cpu.get('base') ?? []).reduce((a, x) => a + x, 0);
    console.log(`${batches} COPY transactions × ${rows} rows per variant (medians; CPU = backend CPU summed over all batches)`);
    for (const v of VARIANTS) {
      const w = median(wall.get(v.name) ?? []);
      const c = (cpu.get(v.name) ?? []).reduce((a, x) => a + x, 0);
      const size = (await client.query<{ s: string }>(`SELECT pg_size_pretty(pg_indexes_size('bench_${v.name}_default')) AS s`)).rows[0]?.s;
      console.log(
        `${v.name.padEnd(14)} wall ${w.toFixed(1).padStart(7)} ms/batch (${(((w - base) / base) * 100).toFixed(1).padStart(5)}%)` +
          `  backend CPU ${c} ms (${(((c - baseCpuTotal) / baseCpuTotal) * 100).toFixed(1).padStart(5)}%)  indexes ${size}`,
      );
    }
  } finally {
    client.release();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await stopServer();
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
