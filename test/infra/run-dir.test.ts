/**
 * The clean-up of killed runs (test/setup/run-dir.ts): a run directory whose owner is dead
 * has its processes stopped and is removed; one whose owner lives is left alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRunDir, removeRunDir, sweepStaleRunDirs } from '../setup/run-dir.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A process that names `dir` on its command line, as the servers do, and runs until killed. */
async function processUsing(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(dir, 'data')], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

describe('sweepStaleRunDirs', () => {
  it('stops the processes of a dead run and removes its directory', async () => {
    const dir = await createRunDir();
    await writeFile(join(dir, 'owner.json'), JSON.stringify({ pid: await deadPid(), startTicks: '1' }));
    const server = await processUsing(dir);
    const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve(signal)));
    const lines: string[] = [];
    const removed = await sweepStaleRunDirs((l) => lines.push(l));
    expect(removed).toContain(dir);
    expect(existsSync(dir)).toBe(false);
    expect(await exited).toBe('SIGTERM');
    expect(lines.join('\n')).toContain(`[${server.pid}]`);
  });

  it('leaves the directory of a live run alone', async () => {
    const dir = await createRunDir(); // owned by this process, which is alive
    try {
      const server = await processUsing(dir);
      const removed = await sweepStaleRunDirs(() => {});
      expect(removed).not.toContain(dir);
      expect(existsSync(dir)).toBe(true);
      expect(server.exitCode).toBeNull();
      expect(JSON.parse(await readFile(join(dir, 'owner.json'), 'utf8'))).toMatchObject({ pid: process.pid });
    } finally {
      await removeRunDir(dir);
    }
  });

  it('treats a recycled pid as dead: the start time must match too', async () => {
    const dir = await createRunDir();
    await writeFile(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid, startTicks: '1' }));
    const removed = await sweepStaleRunDirs(() => {});
    expect(removed).toContain(dir);
  });
});
