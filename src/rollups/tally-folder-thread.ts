import { Worker } from 'node:worker_threads';
import type { PgSessionSettings } from '../database/index.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs } from '../retry/index.js';
import type { TallyFolderOptions, TallyFolderStats } from './tally-folder.js';
import type { FolderThreadData, FromFolderThread, ToFolderThread } from './thread/index.js';

/** The built entry point, beside this file's built copy (dist/src/rollups → dist/workers). */
const DEFAULT_WORKER_FILE = new URL('../../workers/rollup-folder.js', import.meta.url);
/** Beyond the folder's own stop timeout: closing its connections and the thread's exit. */
const EXIT_GRACE_MS = 5_000;
/** A thread that lived this long had a working start: its next restart waits the shortest time again. */
const HEALTHY_RUN_MS = 60_000;
const RESTART_BACKOFF = { initialDelayMs: 1_000, maxDelayMs: 30_000 };

export interface TallyFolderThreadOptions {
  url: string;
  pgSettings: PgSessionSettings;
  folder?: Omit<TallyFolderOptions, 'onRound'>;
  /** The built workers/rollup-folder.js (tests that run the sources pass the built file). */
  workerFile?: URL;
}

const ZERO_STATS: TallyFolderStats = {
  rounds: 0,
  rowsFolded: 0,
  requestsFolded: 0,
  failures: 0,
  lagSeconds: 0,
  lastRoundMs: 0,
  undecodableHistograms: 0,
  clickhouseRowsQueued: 0,
  clickhouseCellsSkipped: 0,
};

/** Counters that only grow: a restarted thread's start from the totals of those before it. */
const COUNTERS = ['rounds', 'rowsFolded', 'requestsFolded', 'failures', 'undecodableHistograms', 'clickhouseRowsQueued', 'clickhouseCellsSkipped'] as const;

/**
 * The receiver's TallyFolder, run in a worker thread of its own with its own connections
 * (src/rollups/thread). A fold round costs about 0.1 ms of CPU per pending group, in bursts
 * of tens of ms per round; on the main thread that was time every HTTP request arriving
 * meanwhile waited. Here the main thread only receives a stats message per round.
 *
 * A thread that exits unexpectedly (an uncaught error) is started again with backoff: its
 * rows stay pending meanwhile, and a half-done round rolled back with its connection.
 */
export class TallyFolderThread {
  private worker: Worker | null = null;
  private readonly workerFile: URL;
  private readonly data: FolderThreadData;
  /** Totals of the threads that ended, and the latest stats of the running one. */
  private base: TallyFolderStats = { ...ZERO_STATS };
  private current: TallyFolderStats = { ...ZERO_STATS };
  private readonly folds = new Map<number, () => void>();
  private nextFoldId = 1;
  private stopping: Promise<void> | null = null;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    options: TallyFolderThreadOptions,
    private readonly log: Logger,
  ) {
    this.workerFile = options.workerFile ?? DEFAULT_WORKER_FILE;
    this.data = { url: options.url, pgSettings: options.pgSettings, folder: options.folder ?? {}, logLevel: log.level };
  }

  /** Resolves once the thread runs its folder; rejects when the thread cannot start. */
  start(): Promise<void> {
    if (this.worker !== null) return Promise.resolve();
    const worker = new Worker(this.workerFile, { workerData: this.data, name: 'rollup-folder' });
    // Like the folder's timers: the thread alone must not keep a stopping process alive.
    worker.unref();
    this.worker = worker;
    const startedAt = performance.now();
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: FromFolderThread) => {
        if (msg.type === 'ready') {
          ready = true;
          resolve();
        } else this.onMessage(msg);
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        else this.log.error({ err }, 'rollup folder thread failed');
      });
      worker.on('exit', (code) => {
        this.worker = null;
        this.base = this.total();
        this.current = { ...ZERO_STATS, lagSeconds: this.base.lagSeconds, lastRoundMs: this.base.lastRoundMs };
        for (const done of this.folds.values()) done();
        this.folds.clear();
        if (!ready) reject(new Error(`rollup folder thread exited with code ${code} before it started`));
        else if (this.stopping === null) this.restartLater(performance.now() - startedAt, code);
      });
    });
  }

  /** Totals since start, across restarts of the thread. */
  stats(): TallyFolderStats {
    return this.total();
  }

  /** Folds until the backlog is short; resolves at once when the thread is not running. */
  foldNow(): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.stopping !== null) return Promise.resolve();
    const id = this.nextFoldId++;
    return new Promise<void>((resolve) => {
      this.folds.set(id, resolve);
      this.send(worker, { type: 'fold', id });
    });
  }

  /**
   * Closes the thread's connections idle or busy for longer than `busyForMs`, as the
   * receiver's health check does with its own pools when PostgreSQL stops answering.
   */
  dropConnections(busyForMs: number): void {
    if (this.worker !== null) this.send(this.worker, { type: 'drop', busyForMs });
  }

  /**
   * The folder's stop (one last bounded round, unless `finalRound` is false: PostgreSQL is
   * known to be down, and the rows stay pending for any receiver), then the thread's exit;
   * terminated past the deadline.
   */
  stop(finalRound = true): Promise<void> {
    this.stopping ??= this.stopThread(finalRound);
    return this.stopping;
  }

  private async stopThread(finalRound: boolean): Promise<void> {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.send(worker, { type: 'stop', finalRound });
    const deadlineMs = (this.data.folder.stopTimeoutMs ?? 5_000) + EXIT_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
    const outcome = await Promise.race([exited.then(() => 'exited' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.log.warn({ deadlineMs }, 'rollup folder thread did not exit in time; terminated (its open round rolls back)');
      await worker.terminate();
    }
  }

  private onMessage(msg: FromFolderThread): void {
    switch (msg.type) {
      case 'stats':
        this.current = msg.stats;
        return;
      case 'folded':
        this.folds.get(msg.id)?.();
        this.folds.delete(msg.id);
        return;
      case 'log':
        this.relayLog(msg.line);
        return;
      default:
        return;
    }
  }

  /** A line of the thread's pino, logged again through this receiver's logger (level, fields, message). */
  private relayLog(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, ...fields } = entry;
    const label = this.log.levels.labels[Number(level)] ?? 'warn';
    const write = (this.log as unknown as Record<string, unknown>)[label];
    if (typeof write === 'function') (write as (o: object, m?: string) => void).call(this.log, fields, typeof msg === 'string' ? msg : undefined);
  }

  private restartLater(ranMs: number, code: number): void {
    if (ranMs >= HEALTHY_RUN_MS) this.restarts = 0;
    const delayMs = backoffDelayMs(this.restarts++, RESTART_BACKOFF);
    this.log.error({ code, restartInMs: Math.round(delayMs) }, 'rollup folder thread exited; starting it again (tallies stay pending meanwhile)');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping !== null) return;
      this.start().catch((err: unknown) => {
        this.log.error({ err }, 'rollup folder thread did not start again');
        this.restartLater(0, -1);
      });
    }, delayMs).unref();
  }

  private send(worker: Worker, msg: ToFolderThread): void {
    worker.postMessage(msg);
  }

  private total(): TallyFolderStats {
    const t = { ...this.current };
    for (const k of COUNTERS) t[k] = this.base[k] + this.current[k];
    return t;
  }
}
