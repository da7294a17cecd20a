/**
 * Runs the Python example producer (examples/python/send_events.py) as a child process.
 *
 * The interpreter is Debian's /usr/bin/python3, where the python3-nacl package installs
 * (scripts/ensure-test-services.mjs); PYTHON overrides it for another interpreter that has
 * PyNaCl.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
export const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/python/', import.meta.url));
export const PRODUCER_SCRIPT = fileURLToPath(new URL('../../examples/python/send_events.py', import.meta.url));

export interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `python args…` in the example's folder with only `env` (plus PATH) in its environment, `stdin` as its input. */
export function runPython(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000, stdin = ''): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, {
      cwd: EXAMPLE_DIR,
      // No bytecode files in the source tree; nothing from the test's own environment leaks in.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON summary send_events.py prints on stdout. */
export interface ProducerSummary {
  agent_id: string;
  events: number;
  accepted: number;
  rejected: { index: number; id: string | null; code: string; message: string }[];
  refused: { status: number; code: string; message: string; events: number }[];
  requests: number;
  retries: number;
  statuses: number[];
}

/** Runs send_events.py with `args`; the agent's secret goes in through MACHPAY_AGENT_SECRET. */
export async function runProducer(args: readonly string[], secret: string): Promise<PythonRun & { summary: ProducerSummary | null }> {
  const run = await runPython([PRODUCER_SCRIPT, ...args], { MACHPAY_AGENT_SECRET: secret });
  let summary: ProducerSummary | null = null;
  try {
    summary = JSON.parse(run.stdout) as ProducerSummary;
  } catch {
    summary = null;
  }
  return { ...run, summary };
}
