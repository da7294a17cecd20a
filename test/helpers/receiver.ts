/**
 * Runs the built receiver (`node dist/src/cli/main.js serve`) as a child process, the way
 * it runs in production, so tests can send it real HTTP, SIGTERM it, or SIGKILL it and
 * check what survived.
 *
 * Contract with the CLI: configuration from the environment (PORT, HOST, DATABASE_URL,
 * CLICKHOUSE_URL, DATA_DIR, LOG_LEVEL, …), JSON log lines on stderr, GET /readyz → 200 once
 * it would honestly accept events.
 *
 * Receivers still running when a test file ends are killed: an afterAll registered when
 * this module is imported by a test file, and a process 'exit' hook as a last resort.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, inject } from 'vitest';
import { freePort } from '../../src/net/index.js';
import { getOnce } from './http-get.js';
import { tailLines } from './log-tail.js';

export const RECEIVER_ENTRY = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Environment variables passed through from the test process; everything else comes from `env`. */
const PASSED_THROUGH = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'];
const MAX_CAPTURE_CHARS = 32 * 1024 * 1024;

export interface StartReceiverOptions {
  /** Script to run with node; default the built CLI. Tests of this helper pass fixtures. */
  entry?: string;
  /** Arguments after the script; default ['serve']. */
  args?: readonly string[];
  /** How long to wait for GET /readyz → 200; default 30 s. */
  readyTimeoutMs?: number;
  /** How long stop() waits after its signal before it SIGKILLs and fails; default 30 s. */
  stopTimeoutMs?: number;
}

export interface RunningReceiver {
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** DATA_DIR of this receiver (a fresh temporary directory unless `env` named one). */
  readonly dataDir: string;
  /** Sends `signal` and resolves to the exit code (null if a signal ended it). Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, the crash case: no shutdown code runs. Resolves once the process is gone. */
  kill9(): Promise<void>;
  /** Resolves when the process exits, however that happens. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The exit code and signal once it has exited, else null. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
  stderrText(): string;
  stdoutText(): string;
}

/**
 * Where receivers' own DATA_DIRs go: under the run directory of the global setup, so a
 * killed run's leftovers are swept with it; the system temp dir without the global setup.
 */
async function scratchDir(): Promise<string> {
  let runDir: string | undefined;
  try {
    runDir = inject('testRunDir');
  } catch {
    runDir = undefined;
  }
  if (typeof runDir !== 'string' || runDir === '') return tmpdir();
  const dir = join(runDir, 'receivers');
  await mkdir(dir, { recursive: true });
  return dir;
}

type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

const live = new Set<ChildProcess>();

/** Kills every receiver this process started that is still running. Safe to call any time. */
export async function stopAllReceivers(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await gone;
    }),
  );
}

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
try {
  afterAll(stopAllReceivers);
} catch {
  // Imported outside a test file's collection (no suite to attach to): the exit hook remains.
}

class Capture {
  private text = '';
  private dropped = 0;
  add(chunk: Buffer): void {
    this.text += chunk.toString('utf8');
    if (this.text.length > MAX_CAPTURE_CHARS) {
      this.dropped += this.text.length - MAX_CAPTURE_CHARS;
      this.text = this.text.slice(-MAX_CAPTURE_CHARS);
    }
  }
  toString(): string {
    return this.dropped > 0 ? `[… ${this.dropped} earlier characters dropped]\n${this.text}` : this.text;
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    return (await getOnce(`${url}/readyz`, 2_000)).status === 200;
  } catch {
    return false;
  }
}

async function startOnce(env: Record<string, string>, opts: StartReceiverOptions, dataDir: string): Promise<RunningReceiver> {
  const port = env.PORT !== undefined ? Number(env.PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const passed = Object.fromEntries(PASSED_THROUGH.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k] as string]])));
  const childEnv: Record<string, string> = {
    ...passed,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    ...env,
    PORT: String(port),
  };
  const entry = opts.entry ?? RECEIVER_ENTRY;
  const child = spawn(process.execPath, [entry, ...(opts.args ?? ['serve'])], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const stdout = new Capture();
  const stderr = new Capture();
  child.stdout?.on('data', (c: Buffer) => stdout.add(c));
  child.stderr?.on('data', (c: Buffer) => stderr.add(c));
  const state: { spawnError: Error | null; exit: ExitInfo | null } = { spawnError: null, exit: null };
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => {
      state.spawnError = err;
      resolve({ code: null, signal: null });
    });
    // 'close' rather than 'exit': stdout and stderr are fully read by then.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  void exited.then((info) => {
    state.exit = info;
    live.delete(child);
  });

  const describe = (why: string): string =>
    `receiver (${entry}) on ${url}: ${why}\n--- stderr tail ---\n${tailLines(stderr.toString(), 40) || '(empty)'}`;

  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (state.spawnError !== null) throw new Error(describe(`could not spawn: ${state.spawnError.message}`));
    if (state.exit !== null) {
      const { code, signal } = state.exit;
      throw Object.assign(new Error(describe(`exited before it was ready (code ${code}, signal ${signal})`)), { exitCode: code, stderr: stderr.toString() });
    }
    if (await isReady(url)) break;
    if (Date.now() >= deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(describe(`GET /readyz did not return 200 within ${readyTimeoutMs} ms`));
    }
    await sleep(100);
  }

  const stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
  let stopping: Promise<number | null> | null = null;
  return {
    url,
    port,
    process: child,
    dataDir,
    exited,
    exitStatus: () => state.exit,
    stderrText: () => stderr.toString(),
    stdoutText: () => stdout.toString(),
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping ??= (async () => {
        if (state.exit === null) child.kill(signal);
        const result = await Promise.race([exited, sleep(stopTimeoutMs, null, { ref: false })]);
        if (result === null) {
          child.kill('SIGKILL');
          await exited;
          throw new Error(describe(`did not exit within ${stopTimeoutMs} ms of ${signal}; killed`));
        }
        return result.code;
      })();
      return stopping;
    },
    async kill9() {
      if (state.exit === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Starts a receiver with `env` on top of test defaults (HOST=127.0.0.1, LOG_LEVEL=info, a
 * fresh DATA_DIR, PORT = a free port) and waits for GET /readyz → 200.
 * Pass DATABASE_URL (createTestDatabase().url) and CLICKHOUSE_URL as the test needs; pass
 * DATA_DIR to restart a receiver on the same local state (e.g. after kill9()).
 */
export async function startReceiver(env: Record<string, string> = {}, opts: StartReceiverOptions = {}): Promise<RunningReceiver> {
  const ownDataDir = env.DATA_DIR === undefined ? await mkdtemp(join(await scratchDir(), 'receiver-')) : null;
  const dataDir = env.DATA_DIR ?? (ownDataDir as string);
  const cleanup = async (): Promise<void> => {
    if (ownDataDir !== null) await rm(ownDataDir, { recursive: true, force: true });
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const receiver = await startOnce(env, opts, dataDir);
      void receiver.exited.then(cleanup);
      return receiver;
    } catch (err) {
      // The free port can be taken between the probe and the receiver's bind: try a fresh one.
      const lostPort = env.PORT === undefined && /EADDRINUSE|address already in use/i.test((err as Error).message);
      if (!lostPort || attempt >= 3) {
        await cleanup();
        throw err;
      }
    }
  }
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (e.g. `--help`, or a config error that must fail at start). */
export async function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliRun> {
  const passed = Object.fromEntries(PASSED_THROUGH.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k] as string]])));
  const child = spawn(process.execPath, [RECEIVER_ENTRY, ...args], { cwd: REPO_ROOT, env: { ...passed, NODE_ENV: 'test', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const stdout = new Capture();
  const stderr = new Capture();
  child.stdout?.on('data', (c: Buffer) => stdout.add(c));
  child.stderr?.on('data', (c: Buffer) => stderr.add(c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    });
    return { code, signal, stdout: stdout.toString(), stderr: stderr.toString() };
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}
