import { unpackGroups } from '../codec/index.js';
import { ThrottledLog, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { Endpoint, errorBody, EVENT_TYPE_OF_TABLE } from '../protocol/index.js';
import { emptyBatch, TABLES, type CopyBatch, type PostgresCopySink, type RefusedRequest, type WriteOutcome } from '../sinks/postgres/index.js';
import type { Spool } from '../sinks/spool/index.js';
import type { AgentRegistry } from './agent-registry.js';
import { encodeBatch } from './batch-codec.js';
import type { Ticket } from './task-dispatcher.js';
import type { TaskOutput } from './worker/index.js';

export interface CommitSchedulerOptions<T extends Ticket> {
  sink: PostgresCopySink;
  agents: AgentRegistry;
  metrics: Metrics;
  log: Logger;
  /** Answers one request (status, body, code) and frees its ring space. */
  finish(ticket: T, status: number, body: string, code: string): void;
  /**
   * Called with the agent of each agent request whose rows a transaction just committed
   * (once per request, so an agent may come more than once): the alerts' touch. It gets the
   * id the ticket already holds; nothing is allocated for it.
   */
  onAgentCommitted?: ((agentId: string) => void) | undefined;
  /** Called once after each committed transaction (the stream's wake-up). */
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
  copyBatchRows: number;
  copyConcurrency: number;
  /** Waiting rows needed before another COPY runs beside one already in flight. */
  parallelCopyRows: number;
  /** …or how long the latest COPY may run before another starts anyway (a slow fsync must not hold everyone). */
  parallelCopyAfterMs: number;
}

/** Rows of one worker task and the requests they belong to. */
export interface CommitUnit<T> {
  out: TaskOutput;
  tickets: T[];
  /** Index in `out` of each ticket (only the 202s of the task are here). */
  indices: number[];
}

/**
 * Worker output → COPY transactions (or spool appends) → acknowledgements, on the main thread.
 *
 * Worker output waits for a free PostgreSQL connection in a FIFO. A request is answered 202
 * only in `settle()`, after the transaction holding its rows has committed, or in
 * `toSpool()`, after its batch is fsynced in the spool: those are the two places where the
 * acknowledgement promise is kept.
 */
export class CommitScheduler<T extends Ticket> {
  private readonly pending: CommitUnit<T>[] = [];
  private pendingRows = 0;
  private copiesInFlight = 0;
  private spoolWritesInFlight = 0;
  private lastCopyStartedAt = 0;
  private copyTimer: NodeJS.Timeout | null = null;
  /** Set at shutdown when PostgreSQL ran out of time: everything still waiting goes to the spool. */
  private spillAll = false;
  /** A failed spool (an fsync error) fails every later append: say so once per interval. */
  private readonly spoolErrorLog: ThrottledLog;

  constructor(private readonly o: CommitSchedulerOptions<T>) {
    this.spoolErrorLog = new ThrottledLog(o.log, 10_000);
  }

  /** Queues the accepted requests of one task, with their rows, for the next commit. */
  add(unit: CommitUnit<T>): void {
    const out = unit.out;
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
      batch.tasks.push({ rows: u.out, requests: u.indices });
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
    for (const u of units) for (const t of u.tickets) this.o.finish(t, 503, body, 'not_ready');
  }

  /**
   * Answers the requests PostgreSQL would not store (the rest of their batch committed) with
   * `not_storable`, and takes them and their rows out of their units and the batch's counts
   * so that acknowledge() and the metrics skip them.
   */
  private refuseRows(units: CommitUnit<T>[], batch: CopyBatch, refused: readonly RefusedRequest[]): void {
    this.o.log.error({ requests: refused.length, err: refused[0]?.error.message, sqlState: (refused[0]?.error as { code?: string } | undefined)?.code }, 'PostgreSQL refused rows of some requests; those requests get 422, the rest of the batch committed');
    const dropped = new Set<string>();
    for (const r of refused) {
      const u = units[r.task] as CommitUnit<T>;
      const message = `PostgreSQL refused a row of this request (SQLSTATE ${(r.error as { code?: string }).code ?? 'unknown'}: ${r.error.message}); nothing from it was stored.`;
      this.o.finish(u.tickets[r.position] as T, 422, errorBody('not_storable', message), 'not_storable');
      dropped.add(`${r.task}:${r.position}`);
      for (const t of TABLES) batch.rows[t] -= r.rows[t];
    }
    units.forEach((u, t) => {
      const keep = u.tickets.map((_, k) => !dropped.has(`${t}:${k}`));
      u.tickets = u.tickets.filter((_, k) => keep[k]);
      u.indices = u.indices.filter((_, k) => keep[k]);
    });
  }

  private acknowledge(units: CommitUnit<T>[], batch: CopyBatch): void {
    const m = this.o.metrics;
    for (const t of TABLES) {
      if (batch.rows[t] === 0) continue;
      m.eventsAcknowledged.labels(EVENT_TYPE_OF_TABLE[t]).inc(batch.rows[t]);
    }
    for (const u of units) {
      for (let k = 0; k < u.tickets.length; k++) this.o.finish(u.tickets[k] as T, 202, u.out.bodies[u.indices[k] as number] as string, '');
    }
  }

  /** The acknowledgement point: 202 only for rows that are durable. */
  private settle(units: CommitUnit<T>[], batch: CopyBatch, outcome: WriteOutcome): void {
    const m = this.o.metrics;
    if (outcome.ok) {
      if (outcome.refused.length > 0) this.refuseRows(units, batch, outcome.refused);
      const label = outcome.refused.length > 0 ? 'committed_refusing_some' : outcome.deduplicated ? 'committed_after_duplicate' : 'committed';
      m.copyBatches.labels(label).inc();
      m.copyDuration.observe(outcome.durationMs / 1000);
      for (const t of TABLES) if (batch.rows[t] > 0) m.copyRows.labels(t).inc(batch.rows[t]);
      this.o.agents.registered(batch.newAgents);
      this.o.onCommitted?.();
      const touch = this.o.onAgentCommitted;
      if (touch !== undefined) {
        for (const u of units) for (const t of u.tickets) if (t.endpoint === Endpoint.Agent) touch(t.agentId);
      }
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
}

function addRows(batch: CopyBatch, out: TaskOutput): number {
  if (batch.groups !== null) unpackGroups(out.groups, batch.groups);
  if (out.interactionRows > 0) {
    batch.chunks.agent_interactions.push(out.interactions);
    batch.interactionKeys.push(out.interactionKeys);
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
