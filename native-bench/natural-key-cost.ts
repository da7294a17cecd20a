/**
 * What holding agent_interactions' natural key (agent_id, nonce) whatever the time costs the
 * COPY (docs/protocol.md §5, schema/postgres/008_natural_keys.sql), on a real PostgreSQL with
 * the receiver's migrated schema. The same kind of batches (5000 interaction rows, 64 agents,
 * COPY text) go through each way of writing them, interleaved batch by batch so that noise
 * on the machine falls on every variant alike, each batch one transaction with fsync on:
 *
 *  - direct:              COPY into agent_interactions (the sink's direct path, no key table);
 *  - direct_again:        the same again: the gap between the two is the noise floor;
 *  - direct_keys_staged:  COPY into the TEMP staging table, INSERT … SELECT into
 *                         agent_interaction_keys, INSERT … SELECT into agent_interactions
 *                         (008's direct path: a repeated key raises unique_violation);
 *  - direct_keys_copy:    COPY into agent_interactions, then COPY the (agent_id, nonce, time)
 *                         of the same rows into agent_interaction_keys (what it would cost if
 *                         the workers sent a key chunk beside the rows);
 *  - keys_without_old_pk: direct_keys_staged into a copy of agent_interactions without its
 *                         primary key (time, agent_id, nonce), which the key table makes
 *                         redundant on the direct path (same partitions and other indexes);
 *  - staged:              COPY into staging, INSERT … ON CONFLICT DO NOTHING (the sink's
 *                         careful path today, without rollup tallies);
 *  - staged_keys:         COPY into staging, keys INSERT … ON CONFLICT DO NOTHING RETURNING,
 *                         staged rows whose key did not come back deleted, then the same
 *                         INSERT (008's careful path).
 *
 *   node dist/native-bench/natural-key-cost.js [--database-url=URL] [--batches=30] [--rows=5000]
 *
 * Without --database-url an embedded PostgreSQL is started in a temporary directory.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { COPY_COLUMNS } from '../src/codec/index.js';
import { migrate, openEmbeddedPostgres } from '../src/database/index.js';
import { newAgent } from '../test/helpers/agent.js';
import { copyIn } from '../bench/copy-in.js';

const COLS = COPY_COLUMNS.agent_interactions.join(', ');
const STAGE = 'stage_agent_interactions';
const KEYS_FROM_STAGE = `INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM ${STAGE}`;
const ROWS_FROM_STAGE = `INSERT INTO agent_interactions (${COLS}) SELECT ${COLS} FROM ${STAGE}`;
const CAREFUL_ROWS = `${ROWS_FROM_STAGE} ORDER BY time, agent_id, nonce ON CONFLICT DO NOTHING`;
const CAREFUL_KEYS =
  `WITH k AS (${KEYS_FROM_STAGE} ORDER BY agent_id, nonce, time ON CONFLICT DO NOTHING RETURNING agent_id, nonce, time) ` +
  `DELETE FROM ${STAGE} s WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.agent_id = s.agent_id AND k.nonce = s.nonce AND k.time = s.time)`;

type Write = (client: pg.PoolClient, rows: Buffer, keys: Buffer) => Promise<void>;

const VARIANTS: { name: string; write: Write }[] = [
  { name: 'direct', write: (c, rows) => copyIn(c, `COPY agent_interactions (${COLS}) FROM STDIN`, rows) },
  { name: 'direct_again', write: (c, rows) => copyIn(c, `COPY agent_interactions (${COLS}) FROM STDIN`, rows) },
  {
    name: 'direct_keys_staged',
    write: async (c, rows) => {
      await copyIn(c, `COPY ${STAGE} (${COLS}) FROM STDIN`, rows);
      await c.query(`${KEYS_FROM_STAGE}; ${ROWS_FROM_STAGE};`);
    },
  },
  {
    name: 'direct_keys_copy',
    write: async (c, rows, keys) => {
      await copyIn(c, `COPY agent_interactions (${COLS}) FROM STDIN`, rows);
      await copyIn(c, 'COPY agent_interaction_keys (agent_id, nonce, time) FROM STDIN', keys);
    },
  },
  {
    name: 'keys_without_old_pk',
    write: async (c, rows) => {
      await copyIn(c, `COPY ${STAGE} (${COLS}) FROM STDIN`, rows);
      await c.query(`${KEYS_FROM_STAGE}; ${ROWS_FROM_STAGE.replace('INTO agent_interactions', 'INTO bench_without_pk')};`);
    },
  },
  {
    name: 'staged',
    write: async (c, rows) => {
      await copyIn(c, `COPY ${STAGE} (${COLS}) FROM STDIN`, rows);
      await c.query(CAREFUL_ROWS);
    },
  },
  {
    name: 'staged_keys',
    write: async (c, rows) => {
      await copyIn(c, `COPY ${STAGE} (${COLS}) FROM STDIN`, rows);
      await c.query(`${CAREFUL_KEYS}; ${CAREFUL_ROWS};`);
    },
  },
];

/** `rows` interaction rows (COPY text) and their keys, over 64 agents, nonces unique per (variant, batch). */
function batchRows(rows: number, first: number, agents: readonly string[]): { rows: Buffer; keys: Buffer } {
  let s = '';
  let k = '';
  const t = new Date(Date.now() - (first % 1_000_000) * 1000).toISOString();
  for (let i = 0; i < rows; i++) {
    const n = first + i;
    const agent = agents[n % agents.length] as string;
    s += `${t}\t${agent}\tvendor-${n % 7}\thttps://api.example.com/v1/items/${n}\tGET\t${1000 + (n % 97)}\tEPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v\t${n}\tt\t${n % 300}\t\\N\t\\N\t\\N\n`;
    k += `${agent}\t${n}\t${t}\n`;
  }
  return { rows: Buffer.from(s), keys: Buffer.from(k) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'database-url': { type: 'string' }, batches: { type: 'string' }, rows: { type: 'string' } } });
  const batches = Number(values.batches ?? 30);
  const rows = Number(values.rows ?? 5000);
  let serverUrl = values['database-url'];
  let stopServer = async (): Promise<void> => undefined;
  let dataDir: string | null = null;
  if (serverUrl === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), 'machpay-natural-key-cost-'));
    chmodSync(dataDir, 0o755);
    const db = await openEmbeddedPostgres(dataDir, pino({ level: 'warn' }), 'serve');
    serverUrl = db.url;
    stopServer = () => db.stop();
  }
  const dbName = `natural_key_cost_${process.pid}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: u.toString(), max: 1 });
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    await migrate(client);
    await client.query(`CREATE TABLE bench_without_pk (LIKE agent_interactions INCLUDING DEFAULTS) PARTITION BY RANGE (time);
      CREATE TABLE bench_without_pk_default PARTITION OF bench_without_pk DEFAULT;
      CREATE INDEX ON bench_without_pk (agent_id, time DESC);
      CREATE INDEX ON bench_without_pk (vendor_id, time DESC);
      CREATE INDEX ON bench_without_pk USING brin (stream_xid) WITH (pages_per_range = 32, autosummarize = on);`);
    await client.query(`CREATE TEMP TABLE ${STAGE} (LIKE agent_interactions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    const agents = Array.from({ length: 64 }, () => newAgent().agentId);
    const wall = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    for (let b = 0; b < batches; b++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const vi = (b + k) % VARIANTS.length;
        const v = VARIANTS[vi] as (typeof VARIANTS)[number];
        const data = batchRows(rows, (b * VARIANTS.length + vi) * rows, agents);
        const t0 = performance.now();
        await client.query('BEGIN');
        await v.write(client, data.rows, data.keys);
        await client.query('COMMIT');
        wall.get(v.name)?.push(performance.now() - t0);
      }
    }
    const base = median(wall.get('direct') ?? []);
    const results: Record<string, { msPerBatch: number; rowsPerSec: number; vsDirect: number }> = {};
    console.log(`${batches} transactions × ${rows} rows per variant (median wall time per transaction)`);
    for (const v of VARIANTS) {
      const w = median(wall.get(v.name) ?? []);
      results[v.name] = { msPerBatch: Math.round(w * 10) / 10, rowsPerSec: Math.round((rows / w) * 1000), vsDirect: Math.round(((w - base) / base) * 1000) / 10 };
      console.log(`${v.name.padEnd(20)} ${w.toFixed(1).padStart(7)} ms  ${String(Math.round((rows / w) * 1000)).padStart(7)} rows/s  (${(((w - base) / base) * 100).toFixed(1).padStart(5)}% vs direct)`);
    }
    const keys = (await client.query<{ n: string }>('SELECT count(*) AS n FROM agent_interaction_keys')).rows[0]?.n;
    console.log(`keys stored: ${keys}`);
    console.log(JSON.stringify({ batches, rows, results }));
    client.release();
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await stopServer();
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
