/**
 * What folding costs the thread that answers HTTP: the same backlog of pending tallies folded
 * by a TallyFolder on this (main) thread and by TallyFolderThread (its own worker thread),
 * alternating, on a PostgreSQL of its own. For each: this thread's CPU per folded group (from
 * /proc: the main thread's tid is the pid) and the event-loop delay while the fold runs
 * (p99 and max, 1 ms resolution). CPU per group hardly changes with other load on the
 * machine; the delays do, so compare the two variants of one run.
 *
 *   npm run build && node dist/bench/fold-thread-cost.js [--groups=3000] [--agents=1000] [--repeats=3]
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { migrate, sessionSettings } from '../src/database/index.js';
import { TallyFolder, TallyFolderThread, writePendingTallies, type RollupGroup } from '../src/rollups/index.js';
import { startPostgres } from './postgres.js';

const { values: args } = parseArgs({
  options: { groups: { type: 'string', default: '3000' }, agents: { type: 'string', default: '1000' }, repeats: { type: 'string', default: '3' } },
});
const GROUPS = Number(args.groups);
const AGENTS = Number(args.agents);
const REPEATS = Number(args.repeats);
const WORKER_FILE = new URL('../workers/rollup-folder.js', import.meta.url);
const TICKS_PER_SECOND = 100;

interface Sample {
  cpuUsPerGroup: number;
  delayP99Ms: number;
  delayMaxMs: number;
  wallMs: number;
}

/** utime + stime of this process's main thread, in µs. */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1e6;
}

function groups(round: number): RollupGroup[] {
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  return Array.from({ length: GROUPS }, (_, i) => {
    const latencies = Array.from({ length: 5 }, (_, k) => 10 + ((i * 7 + k * 13 + round) % 900));
    return {
      kind: 'agent',
      minute,
      entity: `agent-${i % AGENTS}`,
      vendorId: `vendor-${Math.floor(i / AGENTS) % 3}`,
      tenantId: '',
      requests: latencies.length,
      successes: latencies.length - 1,
      failures: 1,
      spendAtomic: 1000n,
      latencies,
    } satisfies RollupGroup;
  });
}

async function writeBacklog(pool: pg.Pool, round: number): Promise<void> {
  const all = groups(round);
  const client = await pool.connect();
  try {
    for (let i = 0; i < all.length; i += 300) {
      await client.query('BEGIN');
      await writePendingTallies(client, all.slice(i, i + 300));
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

async function measure(fold: () => Promise<void>): Promise<Sample> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu0 = mainThreadCpuUs();
  const t0 = performance.now();
  delay.enable();
  await fold();
  delay.disable();
  const wallMs = performance.now() - t0;
  return { cpuUsPerGroup: (mainThreadCpuUs() - cpu0) / GROUPS, delayP99Ms: delay.percentile(99) / 1e6, delayMaxMs: delay.max / 1e6, wallMs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

async function main(): Promise<void> {
  const postgres = await startPostgres();
  const log = pino({ level: 'warn' });
  try {
    await postgres.createDatabase('fold_thread');
    const url = postgres.urlFor('fold_thread');
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    const setup = await pool.connect();
    await migrate(setup);
    setup.release();
    const onMain = new TallyFolder(pool, { intervalMs: 600_000 }, log);
    const inThread = new TallyFolderThread({ url, pgSettings: sessionSettings(), folder: { intervalMs: 600_000 }, workerFile: WORKER_FILE }, log);
    await inThread.start();
    const results: Record<'main' | 'thread', Sample[]> = { main: [], thread: [] };
    // The first backlog creates the rollup rows; the measured ones merge into them (the steady state).
    await writeBacklog(pool, 0);
    await onMain.foldNow();
    for (let r = 1; r <= REPEATS; r++) {
      for (const variant of ['main', 'thread'] as const) {
        await writeBacklog(pool, r);
        results[variant].push(await measure(() => (variant === 'main' ? onMain.foldNow() : inThread.foldNow())));
      }
    }
    await inThread.stop();
    await onMain.stop();
    await pool.end();
    console.log(`fold of ${GROUPS} pending groups (${AGENTS} agents), median of ${REPEATS}; this thread's figures:`);
    for (const variant of ['main', 'thread'] as const) {
      const s = results[variant];
      console.log(
        `  ${variant === 'main' ? 'TallyFolder on the main thread' : 'TallyFolderThread            '}: ` +
          `CPU ${median(s.map((x) => x.cpuUsPerGroup)).toFixed(1)} µs/group, event-loop delay p99 ${median(s.map((x) => x.delayP99Ms)).toFixed(1)} ms, ` +
          `max ${median(s.map((x) => x.delayMaxMs)).toFixed(1)} ms, fold wall ${median(s.map((x) => x.wallMs)).toFixed(0)} ms`,
      );
    }
  } finally {
    await postgres.stop();
  }
}

await main();
