import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * Where the load generator and the servers run. The load generator shares this machine
 * with what it measures, so it either gets a core of its own (`split`: client on CPU 0,
 * the server under test and PostgreSQL on the others) or competes freely (`none`).
 */
export type PinMode = 'split' | 'none';

export interface Placement {
  mode: PinMode;
  /** CPU lists in taskset syntax. */
  client: string;
  server: string;
  postgres: string;
}

/**
 * CPUs of the machine, read once: availableParallelism() follows this process's affinity,
 * which the bench itself changes (it would read 1 after pinning the load generator).
 */
const CPUS = cpus().length;

export function cpuCount(): number {
  return CPUS;
}

export function placementFor(mode: PinMode): Placement {
  const n = cpuCount();
  const all = n === 1 ? '0' : `0-${n - 1}`;
  if (mode === 'none' || n < 2) return { mode: 'none', client: all, server: all, postgres: all };
  const rest = n === 2 ? '1' : `1-${n - 1}`;
  return { mode, client: '0', server: rest, postgres: rest };
}

/** How many CPUs a taskset list names ("0", "1-3", "0,2"). */
export function cpusIn(list: string): number {
  let n = 0;
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - (a as number) + 1;
  }
  return n;
}

let tasksetChecked: boolean | null = null;

export function tasksetAvailable(): boolean {
  if (tasksetChecked === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** Sets the CPU list of every thread of `pid` (threads created later inherit it). */
export function setAffinity(pid: number, cpus: string): void {
  if (!tasksetAvailable()) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  } catch {
    // The process may have exited between listing and pinning; nothing to pin then.
  }
}

/** `pid` and all its descendants, from /proc (PostgreSQL forks a process per connection). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentOf(Number(entry));
    if (ppid === null) continue;
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}
