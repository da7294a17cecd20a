import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolError, SpoolLock, type SpoolLockHolder } from '../../../src/sinks/spool/index.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function lockPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spool-lock-'));
  dirs.push(dir);
  return join(dir, 'spool.lock');
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** A lock file as another process would have left it. */
async function leftBehind(path: string, holder: Partial<SpoolLockHolder>): Promise<void> {
  const full: SpoolLockHolder = { role: 'receiver', pid: 1, host: hostname(), bootId: bootId(), since: new Date().toISOString(), token: 'theirs', ...holder };
  await writeFile(path, JSON.stringify(full));
}

async function lockedBy(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SpoolError);
  expect((err as SpoolError).code).toBe('spool_locked');
  return (err as SpoolError).message;
}

/** A process of this host that stays alive until killed. */
function liveProcess(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid as number;
}

describe('SpoolLock', () => {
  it('is held once: a second taker is refused with who holds it, and it is free again after release', async () => {
    const path = await lockPath();
    const lock = await SpoolLock.acquire(path, 'receiver');
    expect(await lockedBy(SpoolLock.acquire(path, 'spool replay'))).toMatch(new RegExp(`receiver \\(pid ${process.pid} on `));
    await lock.release();
    const again = await SpoolLock.acquire(path, 'spool replay');
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ role: 'spool replay', pid: process.pid, token: again.holder.token });
    await again.release();
  });

  it('refuses a lock held by a live process of this host, at once', async () => {
    const path = await lockPath();
    const pid = liveProcess();
    await leftBehind(path, { pid, role: 'receiver' });
    const started = performance.now();
    expect(await lockedBy(SpoolLock.acquire(path, 'spool replay'))).toMatch(new RegExp(`receiver \\(pid ${pid} on ${hostname()}`));
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('takes over at once a lock whose process of this host is gone (a kill -9), or that was taken before a reboot', async () => {
    const path = await lockPath();
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    await leftBehind(path, { pid: child.pid as number });
    const lock = await SpoolLock.acquire(path, 'spool replay');
    await lock.release();

    await leftBehind(path, { pid: liveProcess(), bootId: 'an-earlier-boot' });
    const afterReboot = await SpoolLock.acquire(path, 'receiver');
    await afterReboot.release();
  });

  it("another host's lock: refused while its holder touches it, taken over once it has not for staleAfterMs", async () => {
    const path = await lockPath();
    await leftBehind(path, { host: 'elsewhere.example', pid: 4242 });
    const beat = setInterval(() => void utimes(path, new Date(), new Date()).catch(() => undefined), 50);
    try {
      expect(await lockedBy(SpoolLock.acquire(path, 'spool replay', { heartbeatMs: 50, staleAfterMs: 400 }))).toMatch(/pid 4242 on elsewhere\.example/);
    } finally {
      clearInterval(beat);
    }
    const started = performance.now();
    const lock = await SpoolLock.acquire(path, 'spool replay', { heartbeatMs: 50, staleAfterMs: 400 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(350);
    await lock.release();
  });

  it('keeps its own file touched, and release leaves a lock that is no longer its own', async () => {
    const path = await lockPath();
    const lock = await SpoolLock.acquire(path, 'receiver', { heartbeatMs: 30 });
    await utimes(path, new Date(0), new Date(0));
    await new Promise((r) => setTimeout(r, 150));
    expect((await stat(path)).mtimeMs, 'the heartbeat touched the file').toBeGreaterThan(0);
    await leftBehind(path, { token: 'someone-else', pid: liveProcess() });
    await lock.release();
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ token: 'someone-else' });
  });
});
