import type { Piscina } from 'piscina';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ALL_ENDPOINTS, ENDPOINTS, errorBody } from '../protocol/index.js';
import type { RingBuffer } from '../ring/index.js';
import type { PostgresCopySink } from '../sinks/postgres/index.js';
import type { Spool } from '../sinks/spool/index.js';
import type { AgentRegistry } from './agent-registry.js';
import { CommitScheduler, type CommitUnit } from './commit-scheduler.js';
import { TaskDispatcher, type Ticket } from './task-dispatcher.js';
import { EVENT_OUTCOMES, type TaskInput, type TaskOutput } from './worker/index.js';

export interface PipelineOptions<T extends Ticket> {
  ring: RingBuffer;
  pool: Piscina<TaskInput, TaskOutput>;
  sink: PostgresCopySink;
  agents: AgentRegistry;
  metrics: Metrics;
  log: Logger;
  /** Sends the HTTP response (the server knows how, and whether the client is still there). */
  answer(ticket: T, status: number, body: string, code: string): void;
  /** Called with the agent of each agent request a transaction committed (CommitScheduler). */
  onAgentCommitted?: ((agentId: string) => void) | undefined;
  /** Called once after each committed transaction. */
  onCommitted?: (() => void) | undefined;
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
 * Received requests → worker tasks → COPY transactions → responses.
 *
 * The two halves run on the main thread: TaskDispatcher hands requests to the workers,
 * CommitScheduler commits what the workers returned and acknowledges it. This class joins
 * them, answers what a worker refused, and counts what is still unanswered (for a drain).
 */
export class IngestPipeline<T extends Ticket> {
  private readonly dispatcher: TaskDispatcher<T>;
  private readonly commits: CommitScheduler<T>;
  private unanswered = 0;
  private drainWaiters: (() => void)[] = [];
  private readonly eventCounters;

  constructor(private readonly o: PipelineOptions<T>) {
    this.eventCounters = ALL_ENDPOINTS.flatMap((e) => EVENT_OUTCOMES.map((outcome) => o.metrics.events.labels(ENDPOINTS[e].name, outcome)));
    const finish = (t: T, status: number, body: string, code: string) => this.finish(t, status, body, code);
    this.dispatcher = new TaskDispatcher<T>({
      pool: o.pool,
      metrics: o.metrics,
      log: o.log,
      dispatchBatchBytes: o.dispatchBatchBytes,
      workers: o.workers,
      maxTasksInFlight: o.maxTasksInFlight,
      onTaskDone: (tickets, out) => this.taskDone(tickets, out),
      onTaskFailed: (tickets) => {
        const body = errorBody('not_ready', 'A worker failed while processing the request; nothing was stored.');
        for (const t of tickets) this.finish(t, 503, body, 'not_ready');
      },
    });
    this.commits = new CommitScheduler<T>({
      sink: o.sink,
      agents: o.agents,
      metrics: o.metrics,
      log: o.log,
      finish,
      onAgentCommitted: o.onAgentCommitted,
      onCommitted: o.onCommitted,
      onSinkUnavailable: o.onSinkUnavailable,
      isSinkUp: o.isSinkUp,
      spool: o.spool,
      onSpoolFull: o.onSpoolFull,
      spillPendingRows: o.spillPendingRows,
      copyBatchRows: o.copyBatchRows,
      copyConcurrency: o.copyConcurrency,
      parallelCopyRows: o.parallelCopyRows,
      parallelCopyAfterMs: o.parallelCopyAfterMs,
    });
  }

  get tasksRunning(): number {
    return this.dispatcher.tasksRunning;
  }

  /** Requests accepted into the pipeline and not yet answered. */
  get inFlight(): number {
    return this.unanswered;
  }

  submit(ticket: T): void {
    this.unanswered++;
    this.dispatcher.submit(ticket);
  }

  /** Resolves once every submitted request has been answered. */
  drained(): Promise<void> {
    if (this.unanswered === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Moves everything still waiting to the spool (shutdown past its deadline). */
  spillToSpool(): void {
    this.commits.spillToSpool();
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
    if (unit !== null) this.commits.add(unit);
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
