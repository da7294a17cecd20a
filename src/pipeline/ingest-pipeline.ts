import type { Piscina } from 'piscina';
import { ALL_ENDPOINTS, Endpoint, ENDPOINTS, errorBody, EVENT_TYPE_OF_TABLE } from '../protocol/index.js';
import { ThrottledLog, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RingBuffer } from '../ring/index.js';
import { type CopyBatch, emptyBatch, type InsertedGroup, type PostgresCopySink, TABLES, type WriteOutcome } from '../sinks/postgres/index.js';
import type { Spool } from '../sinks/spool/index.js';
import { unpackGroups } from '../codec/index.js';
import { AgentRegistry } from './agent-registry.js';
import { encodeBatch } from './batch-codec.js';
import { EVENT_OUTCOMES, type TaskInput, type TaskOutput } from './process-task.js';

/** What the pipeline needs to know of a request whose record is published in the ring. */
export interface Ticket {
  position: number;
  bodyBytes: number;
  endpoint: Endpoint;
  agentId: string;
}

export interface PipelineOptions<T extends Ticket> {
  ring: RingBuffer;
  pool: Piscina<TaskInput, TaskOutput>;
  sink: PostgresCopySink;
  agents: AgentRegistry;
  metrics: Metrics;
  log: Logger;
  /** Sends the HTTP response (the server knows how, and whether the client is still there). */
  answer(ticket: T, status: number, body: string, code: string): void;
  /** Given the rows each committed transaction actually inserted (for the rollups). */
  onInserted(groups: InsertedGroup[]): void;
  /** Told when PostgreSQL stops taking writes, so readiness can follow. */
  onSinkUnavailable(error: Error): void;
  /** Whether PostgreSQL takes writes right now (else batches go to the spool). */
  isSinkUp(): boolean;
  /** The durable local spool, or null when disabled. */
  spool: Spool | null;
  /** Told when an append finds the spool full (readiness follows) and when it has room again. */
  onSpoolFull(full: boolean): void;
  /** Waiting rows past which new batches go to the spool instead of waiting for PostgreSQL. */
  spillPendingRows: number;
  retryAfterSeconds: number;
  dispatchBatchBytes: number;
  /** Worker threads: up to this many tasks are dispatched as soon as anything waits. */
  workers: number;
  /** Tasks beyond `workers` wait in the pool's queue for the next free worker. */
  maxTasksInFlight: number;
  copyBatchRows: number;
  copyConcurrency: number;
  /** Waiting rows needed before another COPY runs beside one already in flight. */
  parallelCopyRows: number;
  /** …or how long the latest COPY may run before another starts anyway (a slow fsync must not hold everyone). */
  parallelCopyAfterMs: number;
}

/**
 * When a task that would only queue is formed: this many requests, or this many body bytes.
 * native-bench/task-overhead.ts: beside its ~53 µs signature check, a single-event request
 * costs the worker ~17 µs more alone in a task, ~6 µs in a task of 16; a 64 KiB batch is
 * milliseconds of work, so there the task overhead no longer matters.
 */
const QUEUED_TASK_MIN_REQUESTS = 16;
const QUEUED_TASK_MIN_BYTES = 64 * 1024;

/** Rows of one worker task and the requests they belong to. */
interface CommitUnit<T> {
  out: TaskOutput;
  tickets: T[];
  /** Index in `out` of each ticket (only the 202s of the task are here). */
  indices: number[];
}

/**
 * Received requests → worker tasks → COPY transactions → responses.
 *
 * Requests wait in a FIFO until a task slot is free; a task takes every waiting request up
 * to a byte budget, so tasks grow with load and stay single-request when idle. Worker output
 * waits for a free PostgreSQL connection the same way. A request is answered 202 only in
 * `settle()`, after the transaction holding its rows has committed: that one function is
 * where the acknowledgement promise is kept, and where a local spool will slot in.
 */
export class IngestPipeline<T extends Ticket> {
  private readonly waiting: T[] = [];
  private waitingHead = 0;
  private tasksInFlight = 0;
  private readonly pending: CommitUnit<T>[] = [];
  private pendingRows = 0;
  private copiesInFlight = 0;
  private spoolWritesInFlight = 0;
  private lastCopyStartedAt = 0;
  private copyTimer: NodeJS.Timeout | null = null;
  /** Set at shutdown when PostgreSQL ran out of time: everything still waiting goes to the spool. */
  private spillAll = false;
  private unanswered = 0;
  private drainWaiters: (() => void)[] = [];
  private readonly eventCounters;
  /** A failed spool (an fsync error) fails every later append: say so once per interval. */
  private readonly spoolErrorLog: ThrottledLog;

  constructor(private readonly o: PipelineOptions<T>) {
    this.eventCounters = ALL_ENDPOINTS.flatMap((e) => EVENT_OUTCOMES.map((outcome) => o.metrics.events.labels(ENDPOINTS[e].name, outcome)));
    this.spoolErrorLog = new ThrottledLog(o.log, 10_000);
  }

  get tasksRunning(): number {
    return this.tasksInFlight;
  }

  /** Requests accepted into the pipeline and not yet answered. */
  get inFlight(): number {
    return this.unanswered;
  }

  submit(ticket: T): void {
    this.unanswered++;
    this.waiting.push(ticket);
    this.dispatch();
  }

  /** Resolves once every submitted request has been answered. */
  drained(): Promise<void> {
    if (this.unanswered === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * A task beyond one per worker only queues behind a running one, so it is formed once
   * enough waits to be worth a task: formed earlier, it would carry the one request that
   * arrived first, and everything arriving while it queues would wait for the task after it.
   */
  private queuedTaskIsWorthIt(): boolean {
    const n = this.waiting.length - this.waitingHead;
    if (n >= QUEUED_TASK_MIN_REQUESTS) return true;
    let bytes = 0;
    for (let i = this.waitingHead; i < this.waiting.length; i++) bytes += (this.waiting[i] as T).bodyBytes;
    return bytes >= QUEUED_TASK_MIN_BYTES;
  }

  private dispatch(): void {
    while (
      this.tasksInFlight < this.o.maxTasksInFlight &&
      this.waitingHead < this.waiting.length &&
      (this.tasksInFlight < this.o.workers || this.queuedTaskIsWorthIt())
    ) {
      const tickets: T[] = [];
      let bytes = 0;
      while (this.waitingHead < this.waiting.length && (tickets.length === 0 || bytes < this.o.dispatchBatchBytes)) {
        const t = this.waiting[this.waitingHead++] as T;
        tickets.push(t);
        bytes += t.bodyBytes;
      }
      if (this.waitingHead === this.waiting.length) {
        // Reset instead of shifting: the queue array is reused without per-request work.
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      this.runTask(tickets);
    }
    this.o.metrics.workerQueue.set(this.waiting.length - this.waitingHead);
  }

  private runTask(tickets: T[]): void {
    this.tasksInFlight++;
    this.o.metrics.workerTasks.inc();
    this.o.metrics.workerTaskRequests.observe(tickets.length);
    const positions = tickets.map((t) => t.position);
    this.o.pool.run({ positions }).then(
      (out) => {
        this.tasksInFlight--;
        this.taskDone(tickets, out);
        this.dispatch();
      },
      (err: Error) => {
        this.tasksInFlight--;
        this.o.metrics.workerTaskFailures.inc();
        this.o.log.error({ err: err.message }, 'worker task failed');
        const body = errorBody('not_ready', 'A worker failed while processing the request; nothing was stored.');
        for (const t of tickets) this.finish(t, 503, body, 'not_ready');
        this.dispatch();
      },
    );
  }

  private taskDone(tickets: T[], out: TaskOutput): void {
    for (let k = 0; k < out.eventCounts.length; k++) {
      const n = out.eventCounts[k] as number;
      if (n > 0) this.eventCounters[k]?.inc(n);
    }
    let unit: CommitUnit<T> | null = null;
    for (let i = 0; i < tickets.length; i++) {
      const t = tickets[i] as T;
      if (out.codes[i] !== '') {
        this.finish(t, out.statuses[i] as number, out.bodies[i] as string, out.codes[i] as string);
        continue;
      }
      unit ??= { out, tickets: [], indices: [] };
      unit.tickets.push(t);
      unit.indices.push(i);
    }
    if (unit === null) return;
    this.pending.push(unit);
    this.pendingRows += out.interactionRows + out.telemetryRows + out.gatewayRows;
    this.o.metrics.copyPendingRows.set(this.pendingRows);
    this.flush();
  }

  /**
   * Sends waiting rows on: to PostgreSQL while it is up and has a free connection; to the
   * spool while it is down, when the queue has grown past `spillPendingRows` (PostgreSQL too
   * slow), or at a shutdown that ran out of time. Without a spool, rows wait for PostgreSQL,
   * or are refused with 503 while it is down.
   */
  private flush(): void {
    const spool = this.o.spool;
    while (this.pending.length > 0) {
      const up = this.o.isSinkUp();
      // One transaction at a time while batches are small: rows arriving meanwhile join the
      // next batch, so each commit carries more. Another one runs beside it when enough rows
      // wait, or when the latest has taken long enough to be stuck on a slow commit.
      let copySlot = this.copiesInFlight === 0;
      if (!copySlot && this.copiesInFlight < this.o.copyConcurrency) {
        const waited = performance.now() - this.lastCopyStartedAt;
        copySlot = this.pendingRows >= this.o.parallelCopyRows || waited >= this.o.parallelCopyAfterMs;
        if (!copySlot && up) this.flushLater(this.o.parallelCopyAfterMs - waited);
      }
      if (up && !this.spillAll && copySlot) {
        const { units, batch } = this.takeBatch();
        this.copiesInFlight++;
        this.lastCopyStartedAt = performance.now();
        void this.o.sink.write(batch).then((outcome) => {
          this.copiesInFlight--;
          this.settle(units, batch, outcome);
          this.flush();
        });
      } else if (spool !== null && (!up || this.spillAll || this.pendingRows > this.o.spillPendingRows) && this.spoolWritesInFlight < 2) {
        const { units, batch } = this.takeBatch();
        this.spoolWritesInFlight++;
        void this.toSpool(spool, units, batch).then(() => {
          this.spoolWritesInFlight--;
          this.flush();
        });
      } else if (spool === null && !up) {
        const { units } = this.takeBatch();
        this.refuse(units, 'PostgreSQL is unavailable; nothing from this request was acknowledged.');
      } else {
        return;
      }
    }
  }

  /** One timer, however many flushes are waiting on the same in-flight COPY. */
  private flushLater(ms: number): void {
    if (this.copyTimer !== null) return;
    this.copyTimer = setTimeout(() => {
      this.copyTimer = null;
      this.flush();
    }, Math.max(1, Math.ceil(ms)));
  }

  /** Moves everything still waiting to the spool (shutdown past its deadline). */
  spillToSpool(): void {
    if (this.o.spool === null) return;
    this.spillAll = true;
    this.flush();
  }

  private takeBatch(): { units: CommitUnit<T>[]; batch: CopyBatch } {
    const units: CommitUnit<T>[] = [];
    const batch = emptyBatch();
    let rows = 0;
    while (this.pending.length > 0 && (units.length === 0 || rows < this.o.copyBatchRows)) {
      const u = this.pending.shift() as CommitUnit<T>;
      units.push(u);
      rows += addRows(batch, u.out);
      for (const t of u.tickets) if (t.endpoint === Endpoint.Agent) this.o.agents.noteSeen(t.agentId);
    }
    this.pendingRows -= rows;
    this.o.metrics.copyPendingRows.set(this.pendingRows);
    batch.newAgents = this.o.agents.unregistered(units.flatMap((u) => u.tickets));
    return { units, batch };
  }

  /** The other acknowledgement point: 202 once the batch is fsynced in the spool. */
  private async toSpool(spool: Spool, units: CommitUnit<T>[], batch: CopyBatch): Promise<void> {
    let result: 'ok' | 'full' | 'error';
    try {
      result = await spool.append(encodeBatch(batch));
    } catch (err) {
      this.spoolErrorLog.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'spool append failed; the batch gets 503');
      result = 'error';
    }
    const m = this.o.metrics;
    if (result !== 'ok') {
      m.spoolAppends.labels(result).inc();
      if (result === 'full') this.o.onSpoolFull(true);
      return this.refuse(units, 'PostgreSQL is unavailable and the local spool is full; nothing from this request was acknowledged.');
    }
    m.spoolAppends.labels('ok').inc();
    this.acknowledge(units, batch);
  }

  private refuse(units: CommitUnit<T>[], message: string): void {
    const body = errorBody('not_ready', message);
    for (const u of units) for (const t of u.tickets) this.finish(t, 503, body, 'not_ready');
  }

  private acknowledge(units: CommitUnit<T>[], batch: CopyBatch): void {
    const m = this.o.metrics;
    for (const t of TABLES) {
      if (batch.rows[t] === 0) continue;
      m.eventsAcknowledged.labels(EVENT_TYPE_OF_TABLE[t]).inc(batch.rows[t]);
    }
    for (const u of units) {
      for (let k = 0; k < u.tickets.length; k++) this.finish(u.tickets[k] as T, 202, u.out.bodies[u.indices[k] as number] as string, '');
    }
  }

  /** The acknowledgement point: 202 only for rows that are durable. */
  private settle(units: CommitUnit<T>[], batch: CopyBatch, outcome: WriteOutcome): void {
    const m = this.o.metrics;
    if (outcome.ok) {
      m.copyBatches.labels(outcome.deduplicated ? 'committed_after_duplicate' : 'committed').inc();
      m.copyDuration.observe(outcome.durationMs / 1000);
      for (const t of TABLES) if (batch.rows[t] > 0) m.copyRows.labels(t).inc(batch.rows[t]);
      this.o.agents.registered(batch.newAgents);
      if (outcome.inserted.length > 0) this.o.onInserted(outcome.inserted);
      return this.acknowledge(units, batch);
    }
    m.copyBatches.labels(outcome.kind).inc();
    if (outcome.kind === 'unavailable') {
      this.o.onSinkUnavailable(outcome.error);
      if (this.o.spool !== null) {
        this.o.log.warn({ err: outcome.error.message }, 'COPY batch failed; writing it to the spool');
        this.spoolWritesInFlight++;
        void this.toSpool(this.o.spool, units, batch).then(() => {
          this.spoolWritesInFlight--;
          this.flush();
        });
        return;
      }
    }
    // A permanent failure is a bug (validation let through a row PostgreSQL refuses): spooling
    // it would only fail again on replay, so the requests are refused and the batch logged.
    this.o.log.error({ err: outcome.error.message, kind: outcome.kind }, 'COPY batch failed; its requests get 503');
    this.refuse(units, 'PostgreSQL did not take the events; nothing from this request was acknowledged.');
  }

  private finish(t: T, status: number, body: string, code: string): void {
    this.o.answer(t, status, body, code);
    this.o.ring.release(t.position);
    this.unanswered--;
    if (this.unanswered === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }
}

function addRows(batch: CopyBatch, out: TaskOutput): number {
  if (batch.groups !== null) unpackGroups(out.groups, batch.groups);
  if (out.interactionRows > 0) {
    batch.chunks.agent_interactions.push(out.interactions);
    batch.rows.agent_interactions += out.interactionRows;
  }
  if (out.telemetryRows > 0) {
    batch.chunks.agent_telemetry.push(out.telemetry);
    batch.rows.agent_telemetry += out.telemetryRows;
  }
  if (out.gatewayRows > 0) {
    batch.chunks.gateway_telemetry.push(out.gateway);
    batch.rows.gateway_telemetry += out.gatewayRows;
  }
  return out.interactionRows + out.telemetryRows + out.gatewayRows;
}
