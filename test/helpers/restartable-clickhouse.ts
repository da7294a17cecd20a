import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findClickhouse, ping, serverUser, startClickhouse } from '../setup/clickhouse-server.js';
import { stopChild, stopOnProcessExit } from '../setup/service.js';
import { tailFile } from './log-tail.js';

/**
 * A ClickHouse of one test file's own, which the test may stop and start again on the same
 * ports and data (the shared server of the run must never go down under other files).
 *
 * startClickhouse() lays out the directory and config and proves the server starts; its
 * RunningService removes the data when stopped, so that first server is stopped with its
 * data kept, and this helper runs the same binary on the same config from then on.
 */
export interface RestartableClickhouse {
  /** http://127.0.0.1:port, the same across restarts. */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/** The directory startClickhouse used under `runDir`: the one whose config names the server's HTTP port. */
async function serverDir(runDir: string, url: string): Promise<string> {
  const port = new URL(url).port;
  for (const name of await readdir(runDir)) {
    if (!name.startsWith('clickhouse-')) continue;
    const config = await readFile(join(runDir, name, 'config.xml'), 'utf8').catch(() => '');
    if (config.includes(`<http_port>${port}</http_port>`)) return join(runDir, name);
  }
  throw new Error(`no ClickHouse directory for port ${port} under ${runDir}`);
}

export async function startRestartableClickhouse(parentDir: string): Promise<RestartableClickhouse> {
  const runDir = await mkdtemp(join(parentDir, 'restartable-clickhouse-'));
  // As root the server runs as the `clickhouse` user: it must reach the directory (mkdtemp makes it 0700).
  await chmod(runDir, 0o755);
  const first = await startClickhouse(runDir);
  const url = first.url;
  const dir = await serverDir(runDir, url);
  const keep = process.env.TEST_KEEP_SERVICE_DATA;
  process.env.TEST_KEEP_SERVICE_DATA = '1';
  try {
    await first.stop();
  } finally {
    if (keep === undefined) delete process.env.TEST_KEEP_SERVICE_DATA;
    else process.env.TEST_KEEP_SERVICE_DATA = keep;
  }

  const binary = findClickhouse();
  const user = serverUser();
  let child: ChildProcess | null = null;
  let forgetExitHook: () => void = () => undefined;

  const start = async (): Promise<void> => {
    if (child !== null) return;
    const out = openSync(join(dir, 'log', 'stdout.log'), 'a');
    const c = spawn(binary.file, [...binary.args, `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: ['ignore', out, out],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LANG: 'C.UTF-8' },
      ...(user ?? {}),
    });
    closeSync(out);
    child = c;
    forgetExitHook = stopOnProcessExit(() => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await ping(url))) {
      if (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline) {
        const tail = await tailFile(join(dir, 'log', 'server.err.log'), 20);
        await stop();
        throw new Error(`restarted ClickHouse did not answer /ping on ${url} within ${READY_TIMEOUT_MS} ms\n${tail}`);
      }
      await sleep(50);
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (c === null) return;
    child = null;
    await stopChild(c, 'SIGTERM', 15_000);
    forgetExitHook();
  };

  await start();
  return {
    url,
    start,
    stop,
    async destroy() {
      await stop();
      await rm(runDir, { recursive: true, force: true });
    },
  };
}
