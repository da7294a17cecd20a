import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SpoolError } from './spool-error.js';

/** Where a data directory keeps its spool and the lock that guards it. */
export function spoolLocation(dataDir: string): { dir: string; lockFile: string } {
  return { dir: join(dataDir, 'spool'), lockFile: join(dataDir, 'spool.lock') };
}

/** Who holds a spool lock, as written in the lock file. */
export interface SpoolLockHolder {
  /** What holds it: `receiver`, `spool replay`. */
  role: string;
  pid: number;
  host: string;
  /** The kernel's boot id where there is one: a lock from before a reboot is stale at once. */
  bootId: string;
  /** ISO time the lock was taken. */
  since: string;
  token: string;
}

export interface SpoolLockOptions {
  /** How often the holder touches the lock file; default 5 s. */
  heartbeatMs?: number;
  /** How long a lock of another host must go untouched to be taken over; default 3 heartbeats. */
  staleAfterMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 5_000;
/** Locks this process holds, by path: a lock naming this pid is stale unless it is here. */
const heldHere = new Set<string>();

/**
 * One process at a time per spool: a receiver serving from its data directory, or
 * `spool replay` draining it (from this host or another one the volume was moved to).
 * Two replayers of one spool would each read and acknowledge records the other is
 * replaying; recovery would cut segments the other is appending to.
 *
 * The lock is a small JSON file created atomically (written aside, then hard-linked into
 * place, which fails if it exists). It is taken over when it is stale:
 *  - same host and boot: its process is gone (a kill -9 leaves the file behind; the
 *    restarted receiver takes it at once);
 *  - same host, another boot: at once;
 *  - another host: its pid says nothing here, so the holder's heartbeat (it touches the
 *    file every `heartbeatMs`) decides: untouched for `staleAfterMs`, the lock is stale.
 *    That wait is measured with this host's clock only, so clock skew between hosts does
 *    not matter.
 * A take-over renames the stale file aside and checks it moved the file it judged stale,
 * so two processes taking over at once do not both win.
 */
export class SpoolLock {
  private readonly timer: NodeJS.Timeout;
  private released = false;

  private constructor(
    readonly path: string,
    readonly holder: SpoolLockHolder,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    }, heartbeatMs);
    this.timer.unref();
  }

  /** Takes the lock at `path` for `role`, or rejects with spool_locked naming who holds it. */
  static async acquire(path: string, role: string, options: SpoolLockOptions = {}): Promise<SpoolLock> {
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const staleAfterMs = options.staleAfterMs ?? 3 * heartbeatMs;
    const me: SpoolLockHolder = { role, pid: process.pid, host: hostname(), bootId: bootId(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
    if (heldHere.has(path)) throw locked(path, (await readHolder(path)) ?? me);
    const aside = `${path}.${me.token}.new`;
    await writeFile(aside, JSON.stringify(me) + '\n', { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await link(aside, path);
          heldHere.add(path);
          return new SpoolLock(path, me, heartbeatMs);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const current = await readHolder(path);
        if (current === null) continue; // released between link and read
        if (!(await isStale(path, current, staleAfterMs))) throw locked(path, current);
        await takeOver(path, current, me.token);
      }
      throw new SpoolError('spool_locked', { detail: `${path} keeps changing hands; try again.` });
    } finally {
      await unlink(aside).catch(() => undefined);
    }
  }

  /** Stops the heartbeat and removes the lock file if it is still this lock's. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    heldHere.delete(this.path);
    const current = await readHolder(this.path);
    if (current?.token === this.holder.token) await unlink(this.path).catch(() => undefined);
  }
}

function locked(path: string, holder: SpoolLockHolder): SpoolError {
  return Object.assign(new SpoolError('spool_locked', { detail: `${holder.role} (pid ${holder.pid} on ${holder.host}, since ${holder.since}) holds ${path}.` }), { holder });
}

let cachedBootId: string | null = null;

function bootId(): string {
  if (cachedBootId === null) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

/** The holder written in the lock file; null when there is no file. A file that does not parse is a holder of unknown origin. */
async function readHolder(path: string): Promise<SpoolLockHolder | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const h = JSON.parse(text) as Partial<SpoolLockHolder>;
    return { role: String(h.role), pid: Number(h.pid), host: String(h.host), bootId: String(h.bootId ?? ''), since: String(h.since), token: String(h.token) };
  } catch {
    return { role: 'unknown', pid: 0, host: 'unknown', bootId: '', since: 'unknown', token: text };
  }
}

async function isStale(path: string, holder: SpoolLockHolder, staleAfterMs: number): Promise<boolean> {
  if (holder.host === hostname() && holder.pid > 0) {
    if (holder.bootId !== bootId()) return true;
    // This pid is this process: the lock is a leftover of an earlier process that had the
    // same pid (a container restarted), since locks held here are refused above.
    if (holder.pid === process.pid) return true;
    return !alive(holder.pid);
  }
  return !(await touchedWithin(path, holder, staleAfterMs));
}

/** Whether the lock file is touched (or replaced) within `ms`, watched with this host's clock. */
async function touchedWithin(path: string, holder: SpoolLockHolder, ms: number): Promise<boolean> {
  const first = await stat(path).catch(() => null);
  if (first === null) return true;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(250, ms)));
    const now = await stat(path).catch(() => null);
    if (now === null || now.mtimeMs !== first.mtimeMs) return true;
    if ((await readHolder(path))?.token !== holder.token) return true;
  }
  return false;
}

async function takeOver(path: string, stale: SpoolLockHolder, token: string): Promise<void> {
  const moved = `${path}.${token}.stale`;
  try {
    await rename(path, moved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const what = await readHolder(moved);
  if (what !== null && what.token !== stale.token) {
    // A live lock replaced the stale one after it was judged: put it back.
    await link(moved, path).catch(() => undefined);
  }
  await unlink(moved).catch(() => undefined);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
