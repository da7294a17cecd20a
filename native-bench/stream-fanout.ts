/**
 * What open stream subscribers cost ingest (docs/read-api.md §4: with 1000 open subscribers,
 * ingest's maximum drops at most 10%; with none, nothing measurable).
 *
 * Two connections COPY batches of interaction rows as fast as PostgreSQL takes them (each
 * commit followed by the pipeline's wake-up call), spread over `agents` agents linked to one
 * tenant, for `seconds` each run: with no subscriber, with `subscribers` subscribers (one per
 * agent topic, plain sockets that read and discard), and with none again. The stream server
 * runs in this process, as in the receiver. Rows/s of each run are printed beside each other.
 *
 *   npx vite-node native-bench/stream-fanout.ts -- [--database-url=URL] [--seconds=8]
 *        [--subscribers=1000] [--rows=5000]
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { createApiKey } from '../src/api-keys/index.js';
import { COPY_COLUMNS } from '../src/codec/index.js';
import { migrate, openEmbeddedPostgres } from '../src/database/index.js';
import { registerStreamRoutes } from '../src/stream/index.js';
import { newAgent } from '../test/helpers/agent.js';
import { copyIn } from '../bench/copy-in.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'database-url': { type: 'string' }, seconds: { type: 'string' }, subscribers: { type: 'string' }, rows: { type: 'string' } },
  });
  const seconds = Number(values.seconds ?? 8);
  const subscriberCount = Number(values.subscribers ?? 1000);
  const rowsPerBatch = Number(values.rows ?? 5000);
  const log = pino({ level: 'warn' });
  let serverUrl = values['database-url'];
  let stopServer = async (): Promise<void> => undefined;
  let dataDir: string | null = null;
  if (serverUrl === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), 'machpay-stream-fanout-'));
    // Run as root, the server runs as the postgres user, who must be able to enter the directory.
    chmodSync(dataDir, 0o755);
    const db = await openEmbeddedPostgres(dataDir, log, 'serve');
    serverUrl = db.url;
    stopServer = () => db.stop();
  }
  const dbName = `stream_fanout_${process.pid}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const writers = new pg.Pool({ connectionString: u.toString(), max: 2 });
  const readers = new pg.Pool({ connectionString: u.toString(), max: 4 });
  writers.on('error', () => undefined);
  readers.on('error', () => undefined);
  const sockets: net.Socket[] = [];
  let listenSocket: uWS.us_listen_socket | null = null;
  let closeStream = async (): Promise<void> => undefined;
  try {
    const c = await writers.connect();
    await migrate(c);
    const { key } = await createApiKey(c, { tenantId: 'bench', name: 'stream bench', test: true });
    await c.query("UPDATE api_keys SET scopes = ARRAY['read']");
    const agents = Array.from({ length: subscriberCount }, () => newAgent().agentId);
    await c.query("INSERT INTO agents (pubkey, tenant_id, first_seen_at, last_seen_at) SELECT a, 'bench', now(), now() FROM unnest($1::text[]) a", [agents]);
    c.release();

    const app = uWS.App();
    const stream = registerStreamRoutes(app, { pool: readers, log, secret: randomBytes(32), listen: false });
    closeStream = () => stream.close();
    listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('did not listen')) : resolve(s))),
    );
    const port = uWS.us_socket_local_port(listenSocket);

    let nonce = 0;
    const batch = (): string => {
      let s = '';
      const t = new Date().toISOString();
      for (let i = 0; i < rowsPerBatch; i++) {
        const n = nonce++;
        s += `${t}\t${agents[n % agents.length]}\tvendor-${n % 7}\t\\N\tGET\t${1000 + (n % 97)}\t\\N\t${n}\tt\t${n % 300}\t\\N\t\\N\t\\N\n`;
      }
      return s;
    };
    let receivedBytes = 0;
    const run = async (label: string): Promise<number> => {
      const deadline = performance.now() + seconds * 1000;
      let rows = 0;
      const before = stream.hub.snapshot().delivered;
      const loop = async (): Promise<void> => {
        const client = await writers.connect();
        try {
          while (performance.now() < deadline) {
            await copyIn(client, `COPY agent_interactions (${COPY_COLUMNS.agent_interactions.join(', ')}) FROM STDIN`, batch());
            stream.notifier.committed();
            rows += rowsPerBatch;
          }
        } finally {
          client.release();
        }
      };
      const t0 = performance.now();
      await Promise.all([loop(), loop()]);
      const rate = rows / ((performance.now() - t0) / 1000);
      await new Promise((r) => setTimeout(r, 500));
      console.log(
        `${label.padEnd(22)} ${rate.toFixed(0).padStart(7)} rows/s ingested; events written to subscribers ${stream.hub.snapshot().delivered - before}, resets ${stream.hub.snapshot().resets}`,
      );
      return rate;
    };

    const idle1 = await run('0 subscribers');
    for (const a of agents) {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('data', (d: Buffer) => (receivedBytes += d.length));
      s.on('error', () => undefined);
      s.write(`GET /v1/agent/events?topic=agent:${a} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${key}\r\n\r\n`);
      sockets.push(s);
    }
    while (stream.hub.snapshot().subscribers < subscriberCount) await new Promise((r) => setTimeout(r, 50));
    const busy = await run(`${subscriberCount} subscribers`);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const idle2 = await run('0 subscribers again');
    const idle = (idle1 + idle2) / 2;
    console.log(`with ${subscriberCount} subscribers: ${(((busy - idle) / idle) * 100).toFixed(1)}% against the mean of the runs without (${(receivedBytes / 1e6).toFixed(1)} MB read by the subscribers)`);
  } finally {
    for (const s of sockets) s.destroy();
    await closeStream();
    if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket);
    await writers.end();
    await readers.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await stopServer();
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
