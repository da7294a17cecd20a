import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Spool } from '../../../src/sinks/spool/index.js';
import { captureLog, makeTempDir, payloadOf, removeTempDirs } from './fixtures/spool-disk.js';

/**
 * The real thing: a child process appends and acknowledges through the compiled module
 * and is killed with SIGKILL at a random moment; the spool it leaves must hold every
 * record whose append had resolved, byte-exact, and none whose acknowledge had resolved.
 *
 * The child imports the compiled module: $SPOOL_MODULE if set, else dist/ when it is newer
 * than the sources (`npm test` builds first), else a private tsc build of this folder.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url));
const ROUNDS = 4;
const buildDirs: string[] = [];
const children: ChildProcess[] = [];
let spoolModule = '';

beforeAll(async () => {
  spoolModule = await compiledSpoolModule();
}, 180_000);

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await removeTempDirs();
  await Promise.all(buildDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function compiledSpoolModule(): Promise<string> {
  const fromEnv = process.env.SPOOL_MODULE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const sources = [
    ...(await readdir(join(ROOT, 'src/sinks/spool'))).filter((n) => n.endsWith('.ts')).map((n) => `src/sinks/spool/${n}`),
    'src/logger.ts',
  ];
  const fresh = await Promise.all(
    sources.map(async (ts) => {
      const js = join(ROOT, 'dist', ts.replace(/\.ts$/, '.js'));
      const [tsStat, jsStat] = await Promise.all([stat(join(ROOT, ts)), stat(js).catch(() => null)]);
      return jsStat !== null && jsStat.mtimeMs >= tsStat.mtimeMs;
    }),
  );
  if (fresh.every(Boolean)) return join(ROOT, 'dist/src/sinks/spool/index.js');

  const out = await mkdtemp(join(tmpdir(), 'spoolbuild-'));
  buildDirs.push(out);
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const flags = ['--outDir', out, '--rootDir', ROOT, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--skipLibCheck', '--strict'];
  await promisify(execFile)(process.execPath, [tsc, ...flags, ...sources], { cwd: ROOT });
  // ESM like the package, and pino resolvable from the build.
  await writeFile(join(out, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  return join(out, 'src/sinks/spool/index.js');
}

interface ChildRun {
  lines: string[];
  stderr: string;
  killedAfterMs: number;
}

/** Runs the child until it has printed `minLines` outcomes, waits `extraMs`, then kill -9. */
async function runAndKill(dir: string, firstSeq: number, minLines: number, extraMs: number): Promise<ChildRun> {
  const child = spawn(process.execPath, [CHILD, dir, String(firstSeq)], {
    env: { ...process.env, SPOOL_MODULE: spoolModule },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = once(child, 'close');

  const startedAt = Date.now();
  const deadline = startedAt + 90_000;
  while (lines.length < minLines + 1) {
    if (child.exitCode !== null) throw new Error(`crash child exited early (${child.exitCode}):\n${stderr}\n${lines.slice(-5).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`crash child printed only ${lines.length} lines in 90 s:\n${stderr}`);
    await sleep(5);
  }
  await sleep(extraMs);
  const killedAfterMs = Date.now() - startedAt;
  child.kill('SIGKILL');
  await closed; // every line written before the kill has been read from the pipe
  return { lines, stderr, killedAfterMs };
}

describe('kill -9 while appending and acknowledging', () => {
  it(`keeps every resolved append and replays no resolved acknowledgement, over ${ROUNDS} kills`, async () => {
    const dir = await makeTempDir();
    // Over all rounds: an append that resolved stays owed until an acknowledge was called
    // ('n': it may be gone); once the acknowledge resolved ('k') it must be gone.
    const appended = new Set<number>();
    const ackCalled = new Set<number>();
    const acked = new Set<number>();
    for (let round = 1; round <= ROUNDS; round++) {
      const minLines = 100 + Math.floor(Math.random() * 400);
      const extraMs = Math.floor(Math.random() * 150);
      const run = await runAndKill(dir, round * 1_000_000, minLines, extraMs);
      const context = `round ${round}, killed after ${run.killedAfterMs} ms (${minLines} lines + ${extraMs} ms)`;
      expect(run.lines.filter((l) => l.startsWith('x')), context).toEqual([]);
      const appendedBefore = appended.size;
      for (const line of run.lines) {
        if (line.startsWith('a ')) appended.add(Number(line.slice(2)));
        else if (line.startsWith('n ')) ackCalled.add(Number(line.slice(2)));
        else if (line.startsWith('k ')) acked.add(Number(line.slice(2)));
      }

      // Read a copy, so the next round's child recovers the very files this kill left.
      const copy = join(await makeTempDir(), 'copy');
      await cp(dir, copy, { recursive: true });
      const { log } = captureLog();
      const spool = await Spool.open({ dir: copy, maxBytes: 48 * 1024 * 1024, segmentBytes: 512 * 1024 }, log);
      const present = new Set<number>();
      let previousSeq = -1;
      try {
        for (let record = await spool.next(); record !== null; record = await spool.next()) {
          const payload = Buffer.from(record.payload);
          const seq = payload.readUInt32LE(0);
          const expected = payloadOf(seq, payload.byteLength);
          expected.writeUInt32LE(seq, 0);
          expect(payload.equals(expected), `${context}: payload of seq ${seq}`).toBe(true);
          expect(seq, `${context}: records out of order`).toBeGreaterThan(previousSeq);
          expect(acked.has(seq), `${context}: seq ${seq} was acknowledged before the kill but came back`).toBe(false);
          previousSeq = seq;
          present.add(seq);
          await spool.acknowledge(record.id);
        }
      } finally {
        await spool.close();
      }
      const missing = [...appended].filter((seq) => !ackCalled.has(seq) && !present.has(seq));
      expect(missing, `${context}: appends that resolved but are gone`).toEqual([]);
      expect(appended.size, context).toBeGreaterThan(appendedBefore);
    }
    // The child both appended and acknowledged, so the kills landed amid both.
    expect(appended.size).toBeGreaterThan(ROUNDS * 50);
    expect(acked.size).toBeGreaterThan(0);
  }, 300_000);
});
