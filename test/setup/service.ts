import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server started for the test run. */
export interface RunningService {
  readonly name: string;
  readonly url: string;
  readonly version: string;
  stop(): Promise<void>;
}

const onExit = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Runs `signalStop` (synchronous: nothing async runs any more) if vitest's main process
 * exits before the teardown, e.g. on SIGTERM or Ctrl-C, or during start-up. The listener is
 * prepended because vitest's own 'exit' listener calls process.exit() again, which ends the
 * process before later listeners run. Returns the function that unregisters it.
 */
export function stopOnProcessExit(signalStop: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.prependListener('exit', () => {
      for (const fn of onExit) {
        try {
          fn();
        } catch {
          // keep signalling the others
        }
      }
    });
  }
  onExit.add(signalStop);
  return () => onExit.delete(signalStop);
}

/** Bounded in-memory log, so a failure message can show what a server said last. */
export class LogBuffer {
  private text = '';
  constructor(private readonly maxChars = 256 * 1024) {}
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.maxChars) this.text = this.text.slice(-this.maxChars);
  }
  toString(): string {
    return this.text;
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs. Resolves once the process is gone. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const inTime = await Promise.race([exited.then(() => true), sleep(graceMs, false, { ref: false })]);
  if (!inTime) {
    console.error(`[test-services] pid ${child.pid ?? '?'} ignored ${signal} for ${graceMs} ms; sending SIGKILL`);
    child.kill('SIGKILL');
    await exited;
  }
}

/** Runs `attempt` up to `tries` times while it fails with an error `isRetryable` accepts (a port taken between probe and bind). */
export async function withPortRetries<T>(tries: number, attempt: (n: number) => Promise<T>, isRetryable: (err: unknown) => boolean): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= tries || !isRetryable(err)) throw err;
      console.warn(`[test-services] attempt ${n} lost its port to another process; retrying on fresh ports`);
    }
  }
}

export function mentionsAddressInUse(err: unknown): boolean {
  return err instanceof Error && /address already in use|EADDRINUSE/i.test(err.message);
}

/** TEST_KEEP_SERVICE_DATA=1 keeps the run directory (data, configs, logs) after the run, for debugging. */
export function keepServiceData(): boolean {
  return process.env.TEST_KEEP_SERVICE_DATA === '1';
}
