import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One temporary directory per test run holds both servers' data, configs and logs.
 *
 * A run killed with SIGKILL (or a crashed vitest) cannot clean up: its servers keep running
 * and its directory stays. Each directory therefore records its owner (the vitest main
 * process: pid plus kernel start time, so a recycled pid is not mistaken for it), and the
 * next run stops the servers of any run whose owner is gone and removes its directory.
 * Live runs of other vitest processes are left alone.
 */

const PREFIX = 'machpay-test-services-';
const MANIFEST = 'owner.json';

interface Owner {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
  readonly startTicks: string | null;
}

/**
 * The parent of run directories: the system temp dir, unless some directory above it is
 * closed to other users (a TMPDIR under /root, say), which the servers, running as the
 * `postgres` and `clickhouse` users when we are root, could not enter. Then /tmp.
 */
function runDirBase(): string {
  const base = tmpdir();
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return base;
  for (let dir = base; ; dir = dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return '/tmp';
    } catch {
      return '/tmp';
    }
    if (dirname(dir) === dir) return base;
  }
}

function startTicksOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterName[19] ?? null; // field 22 overall = index 19 after fields 1 and 2
  } catch {
    return null;
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // Without /proc (not Linux), trust the pid alone.
  const ticks = startTicksOf(owner.pid);
  return owner.startTicks === null || ticks === null || ticks === owner.startTicks;
}

/** Creates this run's directory (mode 0755 so servers running as other users can reach their subdirectories). */
export async function createRunDir(): Promise<string> {
  const dir = await mkdtemp(join(runDirBase(), PREFIX));
  await chmod(dir, 0o755);
  const owner: Owner = { pid: process.pid, startTicks: startTicksOf(process.pid) };
  await writeFile(join(dir, MANIFEST), JSON.stringify(owner) + '\n');
  return dir;
}

export async function removeRunDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Processes whose command line or environment mentions `dir`: the servers name their data or
 * config path in their arguments, receivers started by test/helpers/receiver.ts have their
 * DATA_DIR under it.
 */
async function processesUsing(dir: string): Promise<{ pid: number; comm: string }[]> {
  const found: { pid: number; comm: string }[] = [];
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      const environ = cmdline.includes(dir) ? '' : await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
      if (!cmdline.includes(dir) && !environ.includes(dir)) continue;
      const comm = (await readFile(`/proc/${entry}/comm`, 'utf8')).trim();
      found.push({ pid: Number(entry), comm });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone, or not ours
  }
}

/** Stops the servers left by dead runs and removes their directories. Returns what it removed. */
export async function sweepStaleRunDirs(log: (line: string) => void): Promise<string[]> {
  const base = runDirBase();
  let names: string[];
  try {
    names = (await readdir(base)).filter((n) => n.startsWith(PREFIX));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(base, name);
    let owner: Owner | null = null;
    try {
      owner = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Owner;
    } catch {
      // No manifest: killed between mkdtemp and writing it, or not ours. Only old ones count as stale.
      const info = await stat(dir).catch(() => null);
      if (info === null || Date.now() - info.mtimeMs < 60_000) continue;
    }
    if (owner !== null && isAlive(owner)) continue;

    const procs = await processesUsing(dir);
    // postmaster: SIGQUIT is "immediate shutdown", which still releases its shared memory;
    // everything else (clickhouse-server, initdb) gets SIGTERM first.
    for (const p of procs) signal(p.pid, p.comm === 'postgres' ? 'SIGQUIT' : 'SIGTERM');
    for (let waited = 0; waited < 5_000 && (await processesUsing(dir)).length > 0; waited += 100) await sleep(100);
    const stubborn = await processesUsing(dir);
    for (const p of stubborn) signal(p.pid, 'SIGKILL');
    for (let waited = 0; waited < 2_000 && stubborn.length > 0 && (await processesUsing(dir)).length > 0; waited += 50) await sleep(50);
    if (procs.length > 0) log(`stopped ${procs.length} leftover process(es) of a dead run in ${dir}: ${procs.map((p) => `${p.comm}[${p.pid}]`).join(', ')}`);
    try {
      await removeRunDir(dir);
      removed.push(dir);
    } catch (err) {
      log(`could not remove stale ${dir}: ${String(err)}`);
    }
  }
  return removed;
}
