/**
 * Runs the native-bench ceilings from the bench: the CPU-only ones as their own processes
 * (pinned to the receiver's CPUs where that matters), the COPY ceiling against its own
 * database in the bench's PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { measureCopyCeiling, type CopyCeiling, type VerifyCeiling } from '../native-bench/index.js';
import { placementFor, tasksetAvailable, type PinMode } from './affinity.js';
import type { BenchContext } from './bench-context.js';
import { readJson } from './json-file.js';
import { migrate } from './targets.js';
import type { CodecDecodeFile, RingHandoffFile } from './results.js';
import { signingPrefix } from '../src/protocol/index.js';
import { AGENT_PATH, AgentSet } from './agents.js';
import { singleRequest } from './request-bodies.js';
import { fmtInt } from './format.js';
import { treeCpuSeconds } from './proc-sampler.js';

/** `node script args…`, under `taskset -c cpus` when given and available. */
function nodeCommand(script: string, args: string[], cpus: string | null): { command: string; args: string[] } {
  if (cpus !== null && tasksetAvailable()) return { command: 'taskset', args: ['-c', cpus, process.execPath, script, ...args] };
  return { command: process.execPath, args: [script, ...args] };
}

/** native-bench/codec-decode.js as its authors wrote it; its results file carries the figures (and its own previous run). */
export async function runCodecDecode(ctx: BenchContext): Promise<CodecDecodeFile | null> {
  const file = join(ctx.paths.root, 'native-bench', 'results', 'codec-decode.json');
  const c = nodeCommand(ctx.paths.codecDecode, [`--ms=${ctx.opts.quick ? 150 : 300}`, `--results=${file}`], null);
  ctx.progress.phase('ceiling: codec decode (JSON vs MessagePack)');
  const out = await ctx.reg.run('codec-decode', c.command, c.args, process.env, ctx.paths.root, 120_000);
  ctx.detail(indent(out));
  return readJson<CodecDecodeFile>(file);
}

/** native-bench/ring-handoff.js: postMessage of copies vs the shared ring. */
export async function runRingHandoff(ctx: BenchContext): Promise<RingHandoffFile | null> {
  const file = join(ctx.paths.root, 'native-bench', 'results', 'ring-handoff.json');
  const c = nodeCommand(ctx.paths.ringHandoff, [`--count=${ctx.opts.quick ? 30000 : 100000}`, `--results=${file}`], null);
  ctx.progress.phase('ceiling: ring hand-off vs postMessage');
  const out = await ctx.reg.run('ring-handoff', c.command, c.args, process.env, ctx.paths.root, 180_000);
  ctx.detail(indent(out));
  return readJson<RingHandoffFile>(file);
}

/** Ed25519 verify in as many threads as the receiver has workers, on the receiver's CPUs, for a single-event request. */
export async function runVerifyCeiling(ctx: BenchContext, mode: PinMode): Promise<VerifyCeiling> {
  const placement = placementFor(mode);
  const sample = singleRequest(new AgentSet(1));
  const messageBytes = signingPrefix(String(Date.now()), AGENT_PATH).length + sample.body.length;
  const c = nodeCommand(ctx.paths.verifyCeiling, [`--threads=${ctx.workers}`, `--ms=${ctx.opts.quick ? 1500 : 3000}`, `--message-bytes=${messageBytes}`, '--json'], placement.server);
  ctx.progress.phase(`ceiling: Ed25519 verify [${mode}]`);
  const out = await ctx.reg.run('verify-ceiling', c.command, c.args, process.env, ctx.paths.root, 120_000);
  const v = JSON.parse(out.trim().split('\n').pop() ?? '{}') as VerifyCeiling;
  ctx.say(
    `  verify [${mode}], ${messageBytes} B: libsodium ${fmtInt(v.sodiumPerSec)}/s, node:crypto cached key ${fmtInt(v.nodeCachedPerSec)}/s in ${v.threads} thread(s), key imported each time ${fmtInt(v.nodeImportEachPerSec)}/s, tweetnacl ${v.tweetnaclPerSec}/s, openssl speed ${v.opensslPerSec === null ? 'n/a' : fmtInt(v.opensslPerSec)}/s`,
  );
  return v;
}

/** psql \copy into a fresh, migrated database (same DDL), with PostgreSQL placed as in `mode`. */
export async function runCopyCeiling(ctx: BenchContext, mode: PinMode): Promise<CopyCeiling | null> {
  const psql = findPsql();
  if (psql === null) {
    ctx.say('  copy ceiling: no psql client found; skipped');
    return null;
  }
  const db = `ceiling_${mode}`;
  await ctx.pg.createDatabase(db);
  await migrate(ctx.reg, ctx.paths, ctx.pg.urlFor(db));
  ctx.place(mode);
  await ctx.pg.checkpoint();
  ctx.progress.phase(`ceiling: psql \\copy [${mode}]`);
  const c = await measureCopyCeiling({
    psql,
    databaseUrl: ctx.pg.urlFor(db),
    rowsPerStream: ctx.opts.copyRowsPerStream,
    maxStreams: 2,
    postgresCpuSeconds: () => treeCpuSeconds(ctx.pg.postmasterPid),
  });
  const runs = c.runs.map((r) => `${r.streams} stream(s) ${fmtInt(r.rowsPerSec)} rows/s (${r.rowsPerPgCpuSecond === null ? '?' : fmtInt(r.rowsPerPgCpuSecond)} per PostgreSQL CPU-second)`);
  ctx.say(`  copy ceiling [${mode}]: ${runs.join(', ')}; ${c.bytesPerRow} B/row`);
  return c;
}

function findPsql(): string | null {
  for (const p of ['/usr/bin/psql', '/usr/local/bin/psql']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      // try the next
    }
  }
  return null;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
