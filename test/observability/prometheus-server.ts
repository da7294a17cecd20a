import { spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { freePort } from '../../src/net/index.js';
import { getOnce } from '../helpers/http-get.js';
import { tailFile } from '../helpers/log-tail.js';
import { hasExited, mentionsAddressInUse, stopChild, stopOnProcessExit, withPortRetries } from '../setup/service.js';

/**
 * A real Prometheus (Debian's /usr/bin/prometheus, installed by scripts/ensure-test-services.mjs)
 * on a free 127.0.0.1 port, with a temporary TSDB and the scrape configuration a test gives
 * it. Its directory lives under the run directory of the global setup, so a killed run's
 * Prometheus is found and stopped by the next run's sweep (test/setup/run-dir.ts).
 */

export function findBinary(name: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)]) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found: \`npm test\` installs Debian's prometheus package (scripts/ensure-test-services.mjs, as root), or run \`apt-get install -y --no-install-recommends prometheus\``);
}

/** One element of an instant vector from /api/v1/query. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export type PromQueryResult =
  | { status: 'success'; data: { resultType: string; result: unknown } }
  | { status: 'error'; errorType: string; error: string };

export interface RunningPrometheus {
  /** http://127.0.0.1:port */
  readonly url: string;
  /** One instant query; resolves with Prometheus's answer, errors included. */
  query(expr: string): Promise<PromQueryResult>;
  /** The instant vector of `expr`; throws when Prometheus answers with an error. */
  vector(expr: string): Promise<PromSample[]>;
  stop(): Promise<void>;
  logTail(): Promise<string>;
}

const READY_TIMEOUT_MS = 20_000;

async function workDir(): Promise<string> {
  let runDir: unknown;
  try {
    runDir = inject('testRunDir');
  } catch {
    runDir = undefined;
  }
  const base = typeof runDir === 'string' && runDir !== '' ? join(runDir, 'prometheus') : tmpdir();
  await mkdir(base, { recursive: true });
  return mkdtemp(join(base, 'prometheus-'));
}

async function startOnce(config: unknown, dir: string, attempt: number): Promise<RunningPrometheus> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(dir, `prometheus-${attempt}.json`);
  // JSON is YAML: Prometheus reads the generated configuration as it is.
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const logPath = join(dir, `prometheus-${attempt}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(
    findBinary('prometheus'),
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const forgetExitHook = stopOnProcessExit(() => {
    if (!hasExited(child)) child.kill('SIGKILL');
  });
  const closeLog = () => new Promise<void>((resolve) => log.end(() => resolve()));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (hasExited(child)) {
      forgetExitHook();
      await closeLog();
      throw new Error(`Prometheus exited during start-up (code ${child.exitCode}, signal ${child.signalCode}) on ${url}:\n${await tailFile(logPath)}`);
    }
    const ready = await getOnce(`${url}/-/ready`, 1_000).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL', 1_000);
      forgetExitHook();
      await closeLog();
      throw new Error(`Prometheus on ${url} not ready within ${READY_TIMEOUT_MS} ms:\n${await tailFile(logPath)}`);
    }
    await sleep(100);
  }

  const query = async (expr: string): Promise<PromQueryResult> => {
    const res = await getOnce(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, 5_000);
    try {
      return JSON.parse(res.body) as PromQueryResult;
    } catch {
      throw new Error(`Prometheus answered ${res.status} with a body that is not JSON: ${res.body.slice(0, 200)}`);
    }
  };
  let stopped: Promise<void> | null = null;
  return {
    url,
    query,
    async vector(expr) {
      const r = await query(expr);
      if (r.status !== 'success') throw new Error(`Prometheus rejected ${expr}: ${r.errorType}: ${r.error}`);
      if (r.data.resultType !== 'vector') throw new Error(`${expr} gave a ${r.data.resultType}, not a vector`);
      return r.data.result as PromSample[];
    },
    stop() {
      stopped ??= (async () => {
        await stopChild(child, 'SIGTERM', 10_000);
        forgetExitHook();
        await closeLog();
      })();
      return stopped;
    },
    logTail: () => tailFile(logPath),
  };
}

/** Starts Prometheus with `config` (a parsed prometheus.yml); stop() it, then removeDir(). */
export async function startPrometheus(config: unknown): Promise<RunningPrometheus & { removeDir(): Promise<void> }> {
  const dir = await workDir();
  try {
    const prom = await withPortRetries(3, (attempt) => startOnce(config, dir, attempt), mentionsAddressInUse);
    return Object.assign(prom, { removeDir: () => rm(dir, { recursive: true, force: true }) });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
