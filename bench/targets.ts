/**
 * The servers a scenario is run against, each its own process: the receiver under test, the
 * peer (bench/peer), and the bare uWS endpoint (the HTTP ceiling).
 */
import { join } from 'node:path';
import { freePort } from '../src/net/index.js';
import { waitForHttp } from './ports.js';
import type { ManagedProcess, ProcessRegistry } from './processes.js';

export type TargetName = 'receiver' | 'peer' | 'http-ceiling';

export interface Target {
  name: TargetName;
  url: string;
  pid: number;
  /** The target's own database, null for the HTTP ceiling (it stores nothing). */
  databaseUrl: string | null;
  proc: ManagedProcess;
}

export interface Paths {
  /** Repository root. */
  root: string;
  cli: string;
  peer: string;
  httpCeiling: string;
  verifyCeiling: string;
  codecDecode: string;
  ringHandoff: string;
}

export function pathsFrom(root: string): Paths {
  const dist = join(root, 'dist');
  return {
    root,
    cli: join(dist, 'src', 'cli', 'main.js'),
    peer: join(dist, 'bench', 'peer', 'server.js'),
    httpCeiling: join(dist, 'native-bench', 'http-ceiling.js'),
    verifyCeiling: join(dist, 'native-bench', 'verify-ceiling.js'),
    codecDecode: join(dist, 'native-bench', 'codec-decode.js'),
    ringHandoff: join(dist, 'native-bench', 'ring-handoff.js'),
  };
}

const READY_TIMEOUT_MS = 60_000;

async function startServer(
  reg: ProcessRegistry,
  name: TargetName,
  script: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  databaseUrl: string | null,
): Promise<Target> {
  const port = await freePort();
  const proc = reg.start(name, process.execPath, [script, ...(name === 'receiver' ? ['serve'] : [])], { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, cwd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`, READY_TIMEOUT_MS, () => proc.child.exitCode === null);
  } catch (err) {
    await proc.stop(2000);
    throw new Error(`${name} did not become ready: ${(err as Error).message}\n${proc.outputTail()}`);
  }
  return { name, url, pid: proc.pid, databaseUrl, proc };
}

/**
 * The receiver with its own database and its own DATA_DIR (its local spool lives there; never
 * the checkout's ./.data); `env` carries WORKERS, PG_POOL_SIZE… when the bench was told to set them.
 */
export function startReceiver(reg: ProcessRegistry, paths: Paths, databaseUrl: string, dataDir: string, env: Record<string, string>): Promise<Target> {
  return startServer(reg, 'receiver', paths.cli, { LOG_LEVEL: 'warn', ...env, DATABASE_URL: databaseUrl, DATA_DIR: dataDir }, paths.root, databaseUrl);
}

export function startPeer(reg: ProcessRegistry, paths: Paths, databaseUrl: string, poolSize: number): Promise<Target> {
  return startServer(reg, 'peer', paths.peer, { DATABASE_URL: databaseUrl, PG_POOL_SIZE: String(poolSize) }, paths.root, databaseUrl);
}

export function startHttpCeiling(reg: ProcessRegistry, paths: Paths): Promise<Target> {
  return startServer(reg, 'http-ceiling', paths.httpCeiling, {}, paths.root, null);
}

/** `machpay-receiver migrate` against a database: the schema every target and the COPY ceiling share. */
export async function migrate(reg: ProcessRegistry, paths: Paths, databaseUrl: string): Promise<void> {
  await reg.run('migrate', process.execPath, [paths.cli, 'migrate'], { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, paths.root, 60_000);
}

/** A gateway API key for /v1/ingest (printed alone on the last line of `keys create`). */
export async function createApiKey(reg: ProcessRegistry, paths: Paths, databaseUrl: string): Promise<string> {
  const out = await reg.run(
    'keys create',
    process.execPath,
    [paths.cli, 'keys', 'create', '--tenant', 'bench', '--name', 'bench-mix'],
    { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    paths.root,
    60_000,
  );
  const key = out.trim().split('\n').pop()?.trim() ?? '';
  if (!/^mpk_(live|test)_/.test(key)) throw new Error(`keys create printed no key: ${out}`);
  return key;
}
