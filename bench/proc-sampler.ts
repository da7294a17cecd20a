/**
 * Where the CPU goes and how much memory the receiver holds, read from /proc: CPU time per
 * thread of the server under test, per process of PostgreSQL, of the load generator, and of
 * the whole machine (so that load from other sessions shows up as "other").
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { processTree } from './affinity.js';
import { median, round } from './stats.js';

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a /proc stat line, in clock ticks. */
/** User + system clock ticks (10 ms) of a /proc stat file, or null when the process is gone. */
export function cpuTicks(statPath: string): number | null {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/**
 * cutime + cstime: CPU of children the process has reaped. A PostgreSQL backend that exits
 * (psql disconnecting) vanishes from /proc, and its CPU time moves into the postmaster's.
 */
function reapedChildTicks(statPath: string): number {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/** Nanoseconds a task has spent runnable but waiting for a CPU (second field of schedstat). */
function runQueueWaitNs(schedstatPath: string): number {
  const v = readText(schedstatPath).split(' ');
  return Number(v[1]) || 0;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** PostgreSQL processes by role, from their process titles. */
function postgresRole(pid: number): string {
  const title = readText(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim();
  if (!title.startsWith('postgres:')) return 'postmaster';
  const m = /^postgres: \S+ (\S+) 127\.0\.0\.1/.exec(title);
  if (m !== null) return `backends (${m[1]} db)`;
  return title.slice('postgres: '.length).replace(/\s+.*$/, '') || 'other';
}

interface Snapshot {
  at: number;
  server: Map<number, { ticks: number; waitNs: number }>;
  serverPid: number;
  client: { ticks: number; waitNs: number };
  postgres: Map<number, { role: string; ticks: number; waitNs: number }>;
  /** The postmaster's reaped children (backends that exited). */
  postgresReaped: number;
  machine: { busy: number; total: number };
}

export interface CpuSplit {
  seconds: number;
  /** All figures in cores (1.0 = one core fully busy). */
  client: number;
  serverMain: number;
  serverOtherThreads: number;
  /** The busiest non-main threads of the server (workers, GC, libuv), by thread id. */
  serverTopThreads: { tid: number; cores: number }[];
  postgres: number;
  postgresByRole: Record<string, number>;
  machineBusy: number;
  /** Busy time not accounted to the processes above: other sessions on this machine. */
  other: number;
  cores: number;
  /**
   * Time spent runnable but waiting for a CPU (schedstat), in thread-seconds per second: how
   * much each side was held back by the others and by other sessions. Near 0: it ran whenever
   * it had work. Comparable to its CPU figure: as much waiting as running.
   */
  waiting: { client: number; serverMain: number; serverOtherThreads: number; postgres: number };
}

function machineTicks(): { busy: number; total: number } {
  const line = readText('/proc/stat').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

function snapshot(serverPid: number, clientPid: number, postmasterPid: number): Snapshot {
  const server = new Map<number, { ticks: number; waitNs: number }>();
  for (const tid of readdirSafe(`/proc/${serverPid}/task`)) {
    const t = cpuTicks(`/proc/${serverPid}/task/${tid}/stat`);
    if (t !== null) server.set(Number(tid), { ticks: t, waitNs: runQueueWaitNs(`/proc/${serverPid}/task/${tid}/schedstat`) });
  }
  const postgres = new Map<number, { role: string; ticks: number; waitNs: number }>();
  for (const pid of processTree(postmasterPid)) {
    const t = cpuTicks(`/proc/${pid}/stat`);
    if (t !== null) postgres.set(pid, { role: postgresRole(pid), ticks: t, waitNs: runQueueWaitNs(`/proc/${pid}/schedstat`) });
  }
  // The load generator is the bench's main thread (autocannon runs there).
  const client = { ticks: cpuTicks(`/proc/${clientPid}/stat`) ?? 0, waitNs: runQueueWaitNs(`/proc/${clientPid}/task/${clientPid}/schedstat`) };
  return { at: performance.now(), server, serverPid, client, postgres, postgresReaped: reapedChildTicks(`/proc/${postmasterPid}/stat`), machine: machineTicks() };
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** CPU accounting over a window: `start()` at its beginning, `stop()` at its end. */
export class CpuMeter {
  private first: Snapshot | null = null;

  constructor(
    private readonly serverPid: number,
    private readonly postmasterPid: number,
    private readonly cores: number,
  ) {}

  start(): void {
    this.first = snapshot(this.serverPid, process.pid, this.postmasterPid);
  }

  stop(): CpuSplit {
    const a = this.first ?? snapshot(this.serverPid, process.pid, this.postmasterPid);
    const b = snapshot(this.serverPid, process.pid, this.postmasterPid);
    const seconds = (b.at - a.at) / 1000;
    const hz = ticksPerSecond();
    const cores = (ticks: number) => round(ticks / hz / Math.max(seconds, 1e-9), 3);
    const waitShare = (ns: number) => round(ns / 1e9 / Math.max(seconds, 1e-9), 3);
    let main = 0;
    let others = 0;
    let mainWait = 0;
    let othersWait = 0;
    const threads: { tid: number; cores: number }[] = [];
    for (const [tid, t] of b.server) {
      const before = a.server.get(tid);
      const d = t.ticks - (before?.ticks ?? 0);
      const w = t.waitNs - (before?.waitNs ?? 0);
      if (tid === b.serverPid) {
        main += d;
        mainWait += w;
      } else {
        others += d;
        othersWait += w;
        threads.push({ tid, cores: cores(d) });
      }
    }
    let pgTotal = 0;
    let pgWait = 0;
    const byRole: Record<string, number> = {};
    for (const [pid, p] of b.postgres) {
      const before = a.postgres.get(pid);
      const d = p.ticks - (before?.ticks ?? 0);
      pgTotal += d;
      pgWait += p.waitNs - (before?.waitNs ?? 0);
      byRole[p.role] = (byRole[p.role] ?? 0) + d;
    }
    // Backends that exited during the window: their whole life is now in the postmaster's
    // reaped-children time; what they had used before the window was counted in `a`.
    let exitedBefore = 0;
    for (const [pid, p] of a.postgres) if (!b.postgres.has(pid)) exitedBefore += p.ticks;
    const exited = Math.max(0, b.postgresReaped - a.postgresReaped - exitedBefore);
    if (exited > 0) {
      pgTotal += exited;
      byRole['exited backends'] = (byRole['exited backends'] ?? 0) + exited;
    }
    const machineBusyTicks = b.machine.busy - a.machine.busy;
    const machineTotal = b.machine.total - a.machine.total;
    // /proc/stat counts all CPUs together: busy share × CPUs = busy cores.
    const machineBusy = round((machineBusyTicks / Math.max(machineTotal, 1)) * this.cores, 3);
    const client = cores(b.client.ticks - a.client.ticks);
    const serverMain = cores(main);
    const serverOther = cores(others);
    const postgres = cores(pgTotal);
    return {
      seconds: round(seconds, 1),
      client,
      serverMain,
      serverOtherThreads: serverOther,
      serverTopThreads: threads.sort((x, y) => y.cores - x.cores).slice(0, 4),
      postgres,
      postgresByRole: Object.fromEntries(Object.entries(byRole).map(([k, v]) => [k, cores(v)]).filter(([, v]) => (v as number) > 0.005)),
      machineBusy,
      other: round(Math.max(0, machineBusy - client - serverMain - serverOther - postgres), 3),
      cores: this.cores,
      waiting: { client: waitShare(b.client.waitNs - a.client.waitNs), serverMain: waitShare(mainWait), serverOtherThreads: waitShare(othersWait), postgres: waitShare(pgWait) },
    };
  }
}

/** CPU seconds used so far by `pid` and all its descendants, living or exited (e.g. a postmaster and its backends). */
export function treeCpuSeconds(pid: number): number {
  // Live processes, plus what exited descendants used (reaped into the root's children time).
  let ticks = reapedChildTicks(`/proc/${pid}/stat`);
  for (const p of processTree(pid)) ticks += cpuTicks(`/proc/${p}/stat`) ?? 0;
  return ticks / ticksPerSecond();
}

/** VmRSS of a process, sampled on a timer while it is under load. */
export class RssSampler {
  private readonly samples: number[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 250,
  ) {}

  /** Starts or resumes sampling (samples accumulate over every start…stop). */
  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  private sample(): void {
    const m = /VmRSS:\s+(\d+) kB/.exec(readText(`/proc/${this.pid}/status`));
    if (m !== null) this.samples.push(Number(m[1]) / 1024);
  }

  /** Pauses sampling (with a last sample) and returns the figures so far. */
  stop(): { maxMiB: number; medianMiB: number; samples: number } {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.sample();
    }
    return this.stats();
  }

  stats(): { maxMiB: number; medianMiB: number; samples: number } {
    return { maxMiB: round(Math.max(0, ...this.samples), 1), medianMiB: round(median(this.samples), 1), samples: this.samples.length };
  }
}

/** `top -H` (threads), second frame of two one second apart (the first frame's %CPU is since boot). */
export function topThreads(pids: readonly number[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('top', ['-H', '-b', '-n', '2', '-d', '1', '-w', '160', ...pids.flatMap((p) => ['-p', String(p)]).slice(0, 40)], { timeout: 10_000 }, (err, out) => {
      if (err !== null || typeof out !== 'string') return resolve('');
      const frames = out.split(/\n(?=top - )/);
      const last = frames[frames.length - 1] ?? '';
      resolve(last.split('\n').slice(0, 30).join('\n'));
    });
  });
}
