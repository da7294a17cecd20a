import type pg from 'pg';
import { ThrottledLog, type Logger } from '../logger.js';
import { DEFAULT_ALERT_SETTINGS, type AlertDefaults } from '../read/index.js';
import { loadAgentContexts, type AgentContext } from './agent-context.js';
import { errorRateWindow, readAgentFigures, type AgentFigures } from './agent-figures.js';
import { decide, type Decision } from './alert-rules.js';
import { pruneAlertChanges } from './alert-changes.js';
import { setClearSince } from './alert-store.js';
import { inTransaction } from '../database/index.js';
import { fireInTransaction, resolveInTransaction } from './alert-transitions.js';
import type { Alert } from './alert-types.js';
import type { AlertMetrics } from './metrics.js';
import {
  agentsCrossingErrorRate,
  agentsWithExpiringAlerts,
  agentsWithSpendSince,
  linkedAgentsAfter,
  staleCandidates,
} from './sweep-candidates.js';
import { TouchedAgents } from './touched-agents.js';

export interface AlertEvaluatorOptions {
  /** How long touches gather before a round starts; default 200 ms (an event's alert fires within 2 s of its commit). */
  debounceMs: number;
  /** How often the sweep looks for time-based changes; default 15 s (they happen within 30 s). */
  sweepIntervalMs: number;
  /** Agents evaluated per round; default 200. */
  maxAgentsPerRound: number;
  /** Agents evaluated at once within a round (each holds a pooled connection); default 4. */
  concurrency: number;
  /** Bound of the set of touched agents; default 50,000. */
  maxPendingAgents: number;
  /** Pause before retrying agents whose evaluation failed (PostgreSQL away); default 1 s. */
  retryDelayMs: number;
}

export const DEFAULT_ALERT_EVALUATOR_OPTIONS: Readonly<AlertEvaluatorOptions> = Object.freeze({
  debounceMs: 200,
  sweepIntervalMs: 15_000,
  maxAgentsPerRound: 200,
  concurrency: 4,
  maxPendingAgents: 50_000,
  retryDelayMs: 1000,
});

export interface AlertEvaluatorDeps {
  /** Its own pool or the read pool, never the COPY connections: evaluation must not queue ingest. */
  pool: pg.Pool;
  log: Logger;
  /** Settings an agent has not set itself (docs/read-api.md §5); default DEFAULT_ALERT_SETTINGS. */
  defaults?: AlertDefaults;
  /** Milliseconds since the epoch; default Date.now. Every rule's "now" comes from here. */
  clock?: () => number;
  /** Called after a commit that changed an alert: the webhook dispatcher's `wake()`. */
  wakeWebhooks?: () => void;
  /** Told of every change of state after its commit (a local wake-up for the stream). */
  onChange?: (alert: Alert) => void;
  metrics?: AlertMetrics;
  options?: Partial<AlertEvaluatorOptions>;
}

const MINUTE_MS = 60_000;
/** Agents a worker takes at a time: their figures are read, then their changes applied. */
const AGENTS_PER_CHUNK = 16;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Raises and resolves the alerts of docs/read-api.md §5.
 *
 * Two ways in. `touch(agentId)`, called by the ingest side after each commit, only records
 * the id in a bounded set: nothing per event happens on the ingest path. A round, debounced,
 * takes up to `maxAgentsPerRound` ids, reads each agent's settings, open alerts and figures,
 * and applies what the rules decide. The sweep, every `sweepIntervalMs`, names the agents
 * whose alerts can change with time alone (alerts that expire, silent agents, sliding windows) and
 * hands them to the same rounds.
 *
 * Every change of state is one transaction: the alert row and its webhook deliveries commit
 * together, then the dispatcher is woken. Several receivers may evaluate one agent at once:
 * the database's unique index lets one insert of an open alert win, a resolution only updates
 * a row still firing, and the loser queues nothing.
 */
export class AlertEvaluator {
  private readonly o: AlertEvaluatorOptions;
  private readonly defaults: AlertDefaults;
  private readonly clock: () => number;
  private readonly touched: TouchedAgents;
  private readonly failures: ThrottledLog;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private sweeping: Promise<void> | null = null;
  private stopped = false;
  private lastRoundFailed = false;
  /** The full pass's position (the last public key done), or null when none runs. */
  private fullPassAfter: string | null = null;
  /** A touch was dropped while the full pass ran: run another after it. */
  private passAgain = false;
  private lastSweepHour = -1;

  constructor(private readonly deps: AlertEvaluatorDeps) {
    this.o = { ...DEFAULT_ALERT_EVALUATOR_OPTIONS, ...deps.options };
    this.defaults = deps.defaults ?? DEFAULT_ALERT_SETTINGS;
    this.clock = deps.clock ?? Date.now;
    this.touched = new TouchedAgents(this.o.maxPendingAgents);
    this.log = deps.log.child({ component: 'alerts' });
    this.failures = new ThrottledLog(this.log, 10_000);
  }

  /** Records that `agentId` had rows committed; its alerts are evaluated within about `debounceMs`. */
  touch(agentId: string): void {
    if (!this.touched.add(agentId)) this.overflowed();
    this.schedule(this.o.debounceMs);
  }

  touchMany(agentIds: Iterable<string>): void {
    for (const id of agentIds) if (!this.touched.add(id)) this.overflowed();
    this.schedule(this.o.debounceMs);
  }

  /**
   * Evaluates every linked agent, in pages of maxAgentsPerRound: for commits whose agents are
   * not known one by one (a spool replay), or after settings changed in bulk.
   */
  evaluateAll(): void {
    if (this.fullPassAfter === null) this.startFullPass('every linked agent was asked for');
    else this.passAgain = true;
    this.schedule(0);
  }

  /** Starts the sweep (the first one at once, so a restarted receiver resolves what ended meanwhile). */
  start(): void {
    if (this.sweepTimer !== null || this.stopped) return;
    this.sweepTimer = setInterval(() => void this.sweepAndEvaluate(), this.o.sweepIntervalMs);
    this.sweepTimer.unref();
    void this.sweepAndEvaluate();
  }

  /** Stops the timers and waits for the round and the sweep in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.timer = null;
    this.sweepTimer = null;
    await Promise.allSettled([this.running, this.sweeping]);
  }

  /** Evaluates everything touched so far, now, and returns when it is done (or a round failed). */
  async flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    do await this.kick();
    while (this.hasWork() && !this.lastRoundFailed && !this.stopped);
  }

  /** One sweep: names the agents whose alerts can change with time, and evaluates them. */
  async sweepNow(): Promise<void> {
    await this.sweep();
    await this.flush();
  }

  /** Agents waiting for a round, and touches dropped because the set was full. */
  stats(): { pendingAgents: number; droppedTouches: number; fullPassRunning: boolean } {
    return { pendingAgents: this.touched.size, droppedTouches: this.touched.droppedTotal, fullPassRunning: this.fullPassAfter !== null };
  }

  private overflowed(): void {
    this.deps.metrics?.droppedTouches.inc();
    if (this.fullPassAfter === null) this.startFullPass('more agents to evaluate than the pending set holds');
    else this.passAgain = true;
  }

  private startFullPass(why: string): void {
    this.fullPassAfter = '';
    this.deps.metrics?.fullPasses.inc();
    this.log.info({ pendingAgents: this.touched.size }, `${why}; passing over every linked agent`);
  }

  private hasWork(): boolean {
    return this.touched.size > 0 || this.fullPassAfter !== null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer !== null || this.running !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.kick();
    }, delayMs);
    this.timer.unref();
  }

  /** Starts rounds unless they run already; resolves when they stop. */
  private kick(): Promise<void> {
    if (this.running === null) {
      this.running = this.runRounds().finally(() => {
        this.running = null;
        if (this.hasWork()) this.schedule(this.lastRoundFailed ? this.o.retryDelayMs : 0);
      });
    }
    return this.running;
  }

  private async runRounds(): Promise<void> {
    this.lastRoundFailed = false;
    while (this.hasWork() && !this.stopped && !this.lastRoundFailed) {
      const ids = this.touched.take(this.o.maxAgentsPerRound);
      if (ids.length < this.o.maxAgentsPerRound && this.fullPassAfter !== null) {
        ids.push(...(await this.nextFullPassPage(this.o.maxAgentsPerRound - ids.length)));
      }
      this.deps.metrics?.pendingAgents.set(this.touched.size);
      if (ids.length > 0) await this.round(ids);
    }
  }

  private async nextFullPassPage(room: number): Promise<string[]> {
    const after = this.fullPassAfter as string;
    let page: string[];
    try {
      page = await linkedAgentsAfter(this.deps.pool, after, room);
    } catch (err) {
      this.failed(err, 'reading the full pass failed');
      return [];
    }
    if (page.length < room) {
      this.fullPassAfter = this.passAgain ? '' : null;
      this.passAgain = false;
    } else {
      this.fullPassAfter = page[page.length - 1] as string;
    }
    return page;
  }

  private async round(ids: string[]): Promise<void> {
    const started = performance.now();
    let contexts: AgentContext[];
    try {
      contexts = await loadAgentContexts(this.deps.pool, ids, this.defaults);
    } catch (err) {
      this.retryLater(ids);
      this.failed(err, 'loading agents for alert evaluation failed');
      return;
    }
    // Workers take chunks of agents; a chunk's figures are read (one statement per agent),
    // then its changes are applied, each in its own transaction.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < contexts.length) {
        const chunk = contexts.slice(next, (next += AGENTS_PER_CHUNK));
        let figures: Map<string, AgentFigures>;
        try {
          figures = await this.readFigures(chunk);
        } catch (err) {
          this.deps.metrics?.evaluations.labels('failed').inc(chunk.length);
          this.retryLater(chunk.map((c) => c.agentId));
          this.failed(err, 'reading figures for alert evaluation failed; the agents are retried');
          continue;
        }
        for (const ctx of chunk) {
          try {
            await this.evaluate(ctx, figures.get(ctx.agentId));
            this.deps.metrics?.evaluations.labels('ok').inc();
          } catch (err) {
            this.deps.metrics?.evaluations.labels('failed').inc();
            this.retryLater([ctx.agentId]);
            this.failed(err, 'alert evaluation failed; the agent is retried');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, Math.ceil(contexts.length / AGENTS_PER_CHUNK)) }, worker));
    this.deps.metrics?.roundDuration.observe((performance.now() - started) / 1000);
  }

  private retryLater(ids: readonly string[]): void {
    for (const id of ids) if (!this.touched.add(id)) this.overflowed();
  }

  private failed(err: unknown, message: string): void {
    this.lastRoundFailed = true;
    this.failures.warn({ err: (err as Error).message }, message);
  }

  /** The figures of the agents of `chunk` that may raise alerts, each agent's in one statement. */
  private async readFigures(chunk: readonly AgentContext[]): Promise<Map<string, AgentFigures>> {
    const out = new Map<string, AgentFigures>();
    for (const ctx of chunk) if (mayRaise(ctx)) out.set(ctx.agentId, await readAgentFigures(this.deps.pool, ctx.agentId, this.clock()));
    return out;
  }

  /** One agent: close what may no longer be open, then apply the rules to its figures. */
  private async evaluate(ctx: AgentContext, figures: AgentFigures | undefined): Promise<void> {
    const nowMs = this.clock();
    for (const alert of ctx.open.values()) {
      // Alerts belong to the tenant they fired for: an agent that left it, or turned its
      // alerts off, has its open alerts resolved (that tenant's webhooks are told).
      const reason = !ctx.settings.alertsEnabled ? 'alerts_disabled' : alert.tenantId !== ctx.tenantId ? 'agent_unlinked' : null;
      if (reason === null) continue;
      await this.apply(ctx, { kind: 'resolve', alert, reason, values: {} }, nowMs);
      ctx.open.delete(alert.type);
    }
    if (figures === undefined) return;
    for (const d of decide(ctx, figures)) await this.apply(ctx, d, figures.nowMs);
  }

  private async apply(ctx: AgentContext, d: Decision, nowMs: number): Promise<void> {
    const pool = this.deps.pool;
    if (d.kind === 'clear_since') return setClearSince(pool, d.alert.id, d.atMs);
    let changed: Alert | null;
    if (d.kind === 'fire') {
      const tenantId = ctx.tenantId as string;
      changed = await inTransaction(pool, (c) =>
        fireInTransaction(c, { agentId: ctx.agentId, tenantId, type: d.type, message: d.message, data: d.data, firedAtMs: nowMs }),
      );
    } else {
      changed = await inTransaction(pool, (c) => resolveInTransaction(c, d.alert, nowMs, { reason: d.reason, ...d.values }));
    }
    if (changed === null) return;
    this.deps.metrics?.changes.labels(changed.type, d.kind === 'fire' ? 'fired' : 'resolved').inc();
    this.deps.wakeWebhooks?.();
    this.deps.onChange?.(changed);
  }

  private sweepAndEvaluate(): Promise<void> {
    return this.sweep().then(() => this.schedule(0));
  }

  /** Names the agents whose alerts can change with time alone; a sweep in flight is not doubled. */
  private sweep(): Promise<void> {
    if (this.sweeping === null) {
      this.sweeping = this.collectSweep()
        .catch((err: unknown) => this.failures.warn({ err: (err as Error).message }, 'alert sweep failed; the next one retries'))
        .finally(() => (this.sweeping = null));
    }
    return this.sweeping;
  }

  private async collectSweep(): Promise<void> {
    const nowMs = this.clock();
    const limit = this.o.maxPendingAgents;
    const pool = this.deps.pool;
    await pruneAlertChanges(pool);
    const lists = [
      await agentsWithExpiringAlerts(pool, nowMs, this.defaults.alertsEnabled, limit),
      await staleCandidates(pool, nowMs, this.defaults.alertsEnabled, limit),
      await agentsCrossingErrorRate(pool, errorRateWindow(nowMs), this.defaults, limit),
    ];
    const hour = Math.floor(nowMs / HOUR_MS);
    if (hour !== this.lastSweepHour) {
      // The burn window dropped an hour: every runway with spend in it is judged again.
      lists.push(await agentsWithSpendSince(pool, (hour - 24) * HOUR_MS, limit));
      this.lastSweepHour = hour;
    }
    for (const ids of lists) {
      if (ids.length >= limit && this.fullPassAfter === null) this.startFullPass('a sweep query reached its limit');
      for (const id of ids) if (!this.touched.add(id)) this.overflowed();
    }
  }
}

/** Only agents linked to a tenant, with alerts on, raise alerts. */
function mayRaise(ctx: AgentContext): boolean {
  return ctx.tenantId !== null && ctx.settings.alertsEnabled;
}
