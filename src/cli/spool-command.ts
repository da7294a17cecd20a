import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { SpoolReplayer, type ReplayPass } from '../pipeline/index.js';
import { PostgresCopySink } from '../sinks/postgres/index.js';
import { Spool, SpoolError, SpoolLock, spoolLocation, type SpoolStats } from '../sinks/spool/index.js';
import type { CommandLine } from './command-line.js';
import { withDatabase } from './database-session.js';
import { HELP } from './usage.js';

/** Exit statuses of `spool replay`, as its --help lists them. */
export const SPOOL_REPLAY_EXIT = { drained: 0, stopped: 1, usage: 2, locked: 3 } as const;

const PROGRESS_EVERY_MS = 1_000;

function refuse(message: string): number {
  process.stderr.write(`${message}\n\n${HELP.spool}`);
  return SPOOL_REPLAY_EXIT.usage;
}

export async function spoolCommand(line: CommandLine, config: Config, log: Logger): Promise<number> {
  if (line.sub !== 'replay') return refuse(line.sub === null ? 'spool needs a sub-command' : `unknown sub-command 'spool ${line.sub}'`);
  return replaySpool(config, log);
}

/**
 * Drains DATA_DIR/spool into PostgreSQL, as the receiver that owns it would: the same
 * replayer, the same COPY transactions, so a batch already stored is stored once and the
 * rollups count only what a transaction inserted. The spool lock keeps a receiver (or a
 * second replay) off the spool meanwhile.
 */
async function replaySpool(config: Config, log: Logger): Promise<number> {
  const where = spoolLocation(resolve(config.dataDir));
  if (!existsSync(where.dir)) {
    process.stderr.write(`machpay-receiver: no spool in ${resolve(config.dataDir)} (${where.dir} does not exist): pass the receiver's data directory with --data-dir\n`);
    return SPOOL_REPLAY_EXIT.usage;
  }

  let lock: SpoolLock;
  try {
    lock = await SpoolLock.acquire(where.lockFile, 'spool replay');
  } catch (err) {
    if (!(err instanceof SpoolError) || err.code !== 'spool_locked') throw err;
    process.stderr.write(
      `machpay-receiver: refusing to replay ${where.dir}: ${err.message}\n` +
        'A running receiver replays its own spool; stop it first, or leave the replay to it.\n',
    );
    return SPOOL_REPLAY_EXIT.locked;
  }
  try {
    const spool = await Spool.open(
      { dir: where.dir, maxBytes: Math.max(config.spoolMaxBytes, config.spoolSegmentBytes), segmentBytes: config.spoolSegmentBytes },
      log.child({ component: 'spool' }),
    );
    try {
      const before = spool.stats();
      process.stdout.write(`spool ${where.dir}: ${before.records} batches to replay (${mib(before.bytes)} on disk)\n`);
      if (before.records === 0) return SPOOL_REPLAY_EXIT.drained;
      return await withDatabase(config, log, (pool) => replayInto(spool, new PostgresCopySink(pool, config.rollups), log, before));
    } finally {
      await spool.close();
    }
  } finally {
    await lock.release();
  }
}

async function replayInto(spool: Spool, sink: PostgresCopySink, log: Logger, before: SpoolStats): Promise<number> {
  const progress = new ReplayProgress(spool, before);
  const replayer = new SpoolReplayer(spool, sink, () => true, () => undefined, log.child({ component: 'spool' }), {
    batchReplayed: (bytes, rows) => progress.add(bytes, rows),
  });
  // SIGINT or SIGTERM: the batch in flight commits, the replay stops, the rest stays spooled.
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
    void replayer.stop();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const timer = setInterval(() => progress.print(false), PROGRESS_EVERY_MS);
  let pass: ReplayPass;
  try {
    pass = await replayer.replayNow();
  } finally {
    clearInterval(timer);
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    progress.print(true);
  }
  const done = progress.summary();
  if (pass.end === 'empty') {
    process.stdout.write(`replayed ${done}; the spool is empty\n`);
    return SPOOL_REPLAY_EXIT.drained;
  }
  const left = spool.stats().records;
  const why =
    pass.end === 'unavailable'
      ? `PostgreSQL is unavailable (${pass.error?.message ?? 'no reason given'})`
      : pass.end === 'refused'
        ? `PostgreSQL refused a batch (${pass.error?.message ?? 'no reason given'})`
        : interrupted
          ? 'interrupted'
          : 'stopped';
  process.stdout.write(`replayed ${done}\n`);
  process.stderr.write(`machpay-receiver: replay stopped: ${why}; ${left} batches stay in the spool (run spool replay again)\n`);
  return SPOOL_REPLAY_EXIT.stopped;
}

/**
 * Progress on stderr: what was replayed, at what rate, and what is left. On a terminal one
 * line rewritten in place; otherwise a line per second (logs, CI).
 */
class ReplayProgress {
  private batches = 0;
  private rows = 0;
  private bytes = 0;
  private readonly startedAt = performance.now();

  constructor(
    private readonly spool: Spool,
    private readonly before: SpoolStats,
  ) {}

  add(bytes: number, rows: number): void {
    this.batches++;
    this.rows += rows;
    this.bytes += bytes;
  }

  summary(): string {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return `${this.batches} batches, ${this.rows} events, ${mib(this.bytes)} in ${seconds.toFixed(1)} s`;
  }

  print(last: boolean): void {
    const seconds = Math.max((performance.now() - this.startedAt) / 1000, 1e-3);
    const left = this.spool.stats().records;
    const batchRate = this.batches / seconds;
    const eta = left === 0 ? '' : batchRate > 0 ? `, about ${Math.ceil(left / batchRate)} s` : '';
    const text =
      `replayed ${this.batches}/${this.before.records} batches, ${this.rows} events, ${mib(this.bytes)}` +
      ` · ${Math.round(this.rows / seconds)} events/s, ${mib(this.bytes / seconds)}/s` +
      ` · left ${left} batches${eta}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}${last ? '\n' : ''}`);
    else process.stderr.write(`${text}\n`);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 2 : 1)} MiB`;
}
