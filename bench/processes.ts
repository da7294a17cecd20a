import { spawn, type ChildProcess } from 'node:child_process';

/** A child process the benchmark started and must stop. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or null after a signal) when the process has exited. */
  readonly exited: Promise<number | null>;
  /** The last few KiB of the process's stdout and stderr, for error reports. */
  outputTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_BYTES = 16 * 1024;

/**
 * Every process the benchmark starts goes through here, so that one call stops them all:
 * at the end of the run, on an error, on Ctrl-C, and (as a last resort, synchronously)
 * when the bench process exits.
 */
export class ProcessRegistry {
  private readonly running = new Set<ManagedProcess>();

  start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): ManagedProcess {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc: ManagedProcess = {
      name,
      pid: child.pid,
      child,
      exited,
      outputTail: () => tail,
      stop: async (graceMs = 15_000) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        this.running.delete(proc);
      },
    };
    this.running.add(proc);
    void exited.then(() => this.running.delete(proc));
    return proc;
  }

  /** Runs a command to completion; rejects with its output when it fails or outlives `timeoutMs`. */
  async run(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<string> {
    const proc = this.start(name, command, args, env, cwd);
    let out = '';
    proc.child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
    const code = await proc.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${proc.outputTail()}`);
    return out;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((p) => p.stop()));
  }

  /** For process 'exit': no waiting is possible there, so everything still running is killed. */
  killAllNow(): void {
    for (const p of this.running) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.running.clear();
  }
}
