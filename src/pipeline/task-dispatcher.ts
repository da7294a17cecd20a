import type { Piscina } from 'piscina';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Endpoint } from '../protocol/index.js';
import type { TaskInput, TaskOutput } from './worker/index.js';

/** What the pipeline needs to know of a request whose record is published in the ring. */
export interface Ticket {
  position: number;
  bodyBytes: number;
  endpoint: Endpoint;
  agentId: string;
}

export interface TaskDispatcherOptions<T extends Ticket> {
  pool: Piscina<TaskInput, TaskOutput>;
  metrics: Metrics;
  log: Logger;
  dispatchBatchBytes: number;
  /** Worker threads: up to this many tasks are dispatched as soon as anything waits. */
  workers: number;
  /** Tasks beyond `workers` wait in the pool's queue for the next free worker. */
  maxTasksInFlight: number;
  /** Given each task's output with its requests, in the order of the output. */
  onTaskDone(tickets: T[], out: TaskOutput): void;
  /** Given the requests of a task whose worker failed: nothing of them was stored. */
  onTaskFailed(tickets: T[]): void;
}

/**
 * When a task that would only queue is formed: this many requests, or this many body bytes.
 * native-bench/task-overhead.ts: beside its ~53 µs signature check, a single-event request
 * costs the worker ~17 µs more alone in a task, ~6 µs in a task of 16; a 64 KiB batch is
 * milliseconds of work, so there the task overhead no longer matters.
 */
const QUEUED_TASK_MIN_REQUESTS = 16;
const QUEUED_TASK_MIN_BYTES = 64 * 1024;

/**
 * Received requests → worker tasks, on the main thread.
 *
 * Requests wait in a FIFO until a task slot is free; a task takes every waiting request up
 * to a byte budget, so tasks grow with load and stay single-request when idle.
 */
export class TaskDispatcher<T extends Ticket> {
  private readonly waiting: T[] = [];
  private waitingHead = 0;
  private tasksInFlight = 0;

  constructor(private readonly o: TaskDispatcherOptions<T>) {}

  get tasksRunning(): number {
    return this.tasksInFlight;
  }

  submit(ticket: T): void {
    this.waiting.push(ticket);
    this.dispatch();
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
        this.o.onTaskDone(tickets, out);
        this.dispatch();
      },
      (err: Error) => {
        this.tasksInFlight--;
        this.o.metrics.workerTaskFailures.inc();
        this.o.log.error({ err: err.message }, 'worker task failed');
        this.o.onTaskFailed(tickets);
        this.dispatch();
      },
    );
  }
}
