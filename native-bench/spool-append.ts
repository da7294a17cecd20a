/**
 * What the spool costs: appends/s and MB/s with group commit under concurrent appenders,
 * beside the ceiling measured in the same run on the same disk: the same bytes written by
 * one writev + one fdatasync per batch with no spool around them, and the bare fdatasync
 * latency of one 4 KiB write. Also how fast a spool of that size is recovered at start
 * and drained (next + acknowledge, one record at a time, as the consumer does).
 *
 *   node dist/native-bench/spool-append.js [--dir=/tmp] [--appenders=8] [--mb=256]
 *        [--results=native-bench/results/spool-append.json] [--no-save]
 *
 * Each figure is the median of five rounds, the two modes alternating (the disk here is
 * shared and its speed swings severalfold within minutes); the previous run's figures,
 * kept as JSON, are printed beside them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Spool } from '../src/sinks/spool/index.js';

const ROUNDS = 5;
const SEGMENT_BYTES = 16 * 1024 * 1024;
const KiB = 1024;
const MiB = 1024 * KiB;

interface Figure {
  appendsPerSec: number;
  mbPerSec: number;
  /** Median and 99th percentile of one append's latency, ms. */
  p50Ms: number;
  p99Ms: number;
}
interface ResultsFile {
  date: string;
  node: string;
  appenders: number;
  mb: number;
  fdatasyncMs: { p50: number; p99: number };
  results: Record<string, Figure>;
  recoveryMbPerSec: number;
  drainMbPerSec: number;
}

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    appenders: { type: 'string', default: '8' },
    mb: { type: 'string', default: '256' },
    results: { type: 'string', default: 'native-bench/results/spool-append.json' },
    'no-save': { type: 'boolean', default: false },
  },
});
const appenders = Number(values.appenders);
const totalBytes = Number(values.mb) * MiB;
const silent = pino({ level: 'silent' });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

async function fdatasyncLatency(dir: string): Promise<{ p50: number; p99: number }> {
  const handle = await open(join(dir, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4 * KiB, 1);
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    await handle.write(block, 0, block.byteLength, i * block.byteLength);
    const t = performance.now();
    await handle.datasync();
    samples.push(performance.now() - t);
  }
  await handle.close();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** The spool: `appenders` loops, each awaiting its append before the next. */
async function spoolRound(dir: string, payloadBytes: number): Promise<Figure> {
  const spool = await Spool.open({ dir, maxBytes: totalBytes + 64 * MiB, segmentBytes: SEGMENT_BYTES }, silent);
  const payload = Buffer.alloc(payloadBytes, 7);
  const count = Math.max(appenders, Math.floor(totalBytes / payloadBytes));
  let started = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (started++ < count) {
        const t = performance.now();
        if ((await spool.append(payload)) !== 'ok') throw new Error('spool full during the benchmark');
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await spool.close();
  return { appendsPerSec: count / seconds, mbPerSec: (count * payloadBytes) / MiB / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/**
 * The ceiling: batches of `appenders` payloads (each behind a 32-byte header), one writev +
 * one fdatasync each, into files of the spool's segment size; no checksums, no queue.
 */
async function ceilingRound(dir: string, payloadBytes: number): Promise<Figure> {
  let files = 0;
  let handle = await open(join(dir, `ceiling-${files++}`), 'w');
  const payload = Buffer.alloc(payloadBytes, 7);
  const header = Buffer.alloc(32, 1);
  const count = Math.max(appenders, Math.floor(totalBytes / payloadBytes));
  const batch = Array.from({ length: appenders }, () => [header, payload]).flat();
  let position = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let done = 0; done < count; done += appenders) {
    const t = performance.now();
    if (position >= SEGMENT_BYTES) {
      await handle.close();
      handle = await open(join(dir, `ceiling-${files++}`), 'w');
      position = 0;
    }
    const { bytesWritten } = await handle.writev(batch, position);
    position += bytesWritten;
    await handle.datasync();
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - t0) / 1000;
  await handle.close();
  return { appendsPerSec: count / seconds, mbPerSec: (count * payloadBytes) / MiB / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/** Opens the spool a round left behind (recovery), then reads and acknowledges all of it. */
async function recoverAndDrainRound(dir: string): Promise<{ recovery: number; drain: number }> {
  let t = performance.now();
  const spool = await Spool.open({ dir, maxBytes: totalBytes + 64 * MiB, segmentBytes: SEGMENT_BYTES }, silent);
  const recoverySeconds = (performance.now() - t) / 1000;
  const mb = spool.stats().bytes / MiB;
  t = performance.now();
  for (let record = await spool.next(); record !== null; record = await spool.next()) await spool.acknowledge(record.id);
  const drainSeconds = (performance.now() - t) / 1000;
  await spool.close();
  return { recovery: mb / recoverySeconds, drain: mb / drainSeconds };
}

function lastRun(mbPerSec: number | undefined): string {
  return mbPerSec === undefined ? '' : `   (last run: ${mbPerSec.toFixed(0)} MB/s)`;
}

function medianFigure(figures: Figure[]): Figure {
  return {
    appendsPerSec: median(figures.map((f) => f.appendsPerSec)),
    mbPerSec: median(figures.map((f) => f.mbPerSec)),
    p50Ms: median(figures.map((f) => f.p50Ms)),
    p99Ms: median(figures.map((f) => f.p99Ms)),
  };
}

async function main(): Promise<void> {
  // Older result files may lack a figure: every read of `previous` is optional.
  const previous: Partial<ResultsFile> | null = existsSync(values.results) ? (JSON.parse(readFileSync(values.results, 'utf8')) as Partial<ResultsFile>) : null;
  const base = await mkdtemp(join(values.dir, 'spool-bench-'));
  try {
    const fdatasyncMs = await fdatasyncLatency(base);
    console.log(`fdatasync of a 4 KiB write: p50 ${fdatasyncMs.p50.toFixed(2)} ms, p99 ${fdatasyncMs.p99.toFixed(2)} ms`);
    const results: Record<string, Figure> = {};
    let recoveryMbPerSec = 0;
    let drainMbPerSec = 0;
    for (const payloadBytes of [64 * KiB, 1 * MiB]) {
      // Rounds alternate between the modes, so both see the same (shared, noisy) disk.
      const figures: Record<'ceiling' | 'spool', Figure[]> = { ceiling: [], spool: [] };
      const recoveries: { recovery: number; drain: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of ['ceiling', 'spool'] as const) {
          const dir = join(base, `${mode}-${payloadBytes}-${round}`);
          mkdirSync(dir);
          figures[mode].push(mode === 'spool' ? await spoolRound(dir, payloadBytes) : await ceilingRound(dir, payloadBytes));
          if (mode === 'spool' && payloadBytes === 64 * KiB) recoveries.push(await recoverAndDrainRound(dir));
          await rm(dir, { recursive: true, force: true });
        }
      }
      if (recoveries.length > 0) {
        recoveryMbPerSec = median(recoveries.map((r) => r.recovery));
        drainMbPerSec = median(recoveries.map((r) => r.drain));
      }
      for (const mode of ['ceiling', 'spool'] as const) {
        const key = `${mode} ${payloadBytes / KiB} KiB`;
        const f = (results[key] = medianFigure(figures[mode]));
        const before = previous?.results?.[key];
        const was = before === undefined ? '' : `   (last run: ${before.appendsPerSec.toFixed(0)}/s, ${before.mbPerSec.toFixed(1)} MB/s)`;
        console.log(
          `${key.padEnd(18)} ${f.appendsPerSec.toFixed(0).padStart(7)} appends/s ${f.mbPerSec.toFixed(1).padStart(7)} MB/s  latency p50 ${f.p50Ms.toFixed(1)} ms p99 ${f.p99Ms.toFixed(1)} ms${was}`,
        );
      }
    }
    console.log(`recovery of the 64 KiB spool: ${recoveryMbPerSec.toFixed(0)} MB/s${lastRun(previous?.recoveryMbPerSec)}`);
    console.log(`drain (next + acknowledge) of it: ${drainMbPerSec.toFixed(0)} MB/s${lastRun(previous?.drainMbPerSec)}`);
    if (!values['no-save']) {
      const file: ResultsFile = {
        date: new Date().toISOString(),
        node: process.version,
        appenders,
        mb: totalBytes / MiB,
        fdatasyncMs,
        results,
        recoveryMbPerSec,
        drainMbPerSec,
      };
      mkdirSync(dirname(values.results), { recursive: true });
      writeFileSync(values.results, `${JSON.stringify(file, null, 2)}\n`);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
