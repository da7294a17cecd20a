import type pg from 'pg';
import type { Logger } from '../logger.js';
import { pruneWebhookHistory } from '../webhooks/index.js';
import { purgeRollupBuckets, ROLLUP_TABLES } from './bucket-purge.js';
import { purgeDefaultPartition } from './default-partition-purge.js';
import { purgeGatewayTelemetry } from './gateway-telemetry-purge.js';
import { dropExpiredPartitions, type DroppedPartition } from './partition-drop.js';
import { cutoffMs, type RetentionPolicy } from './policy.js';
import { countRefusedRows, purgeRefusedRows, type RefusedRowsCount } from './refused-rows-purge.js';
import { purgeResolvedAlerts } from './resolved-alerts-purge.js';
import type { RetentionLimits } from './retention-limits.js';

export interface RetentionJobOptions {
  readonly policy: RetentionPolicy;
  /** lock_timeout of each DETACH and DROP (the session's DDL limit). */
  readonly lockTimeoutMs: number;
  /** statement_timeout of each DETACH and DROP. */
  readonly statementTimeoutMs: number;
  readonly batchRows: number;
  /** The most one run may take; what is left waits for the next check. */
  readonly maxRunMs: number;
}

/** What one run removed. */
export interface RetentionRun {
  /** True when another receiver was running retention: this one did nothing. */
  readonly skipped: boolean;
  readonly partitions: readonly DroppedPartition[];
  /** Rows deleted by table (batched deletes, and agent_interaction_keys). */
  readonly rowsDeleted: Readonly<Record<string, number>>;
  /** False when the run stopped at its time limit with more to remove. */
  readonly complete: boolean;
}

/** Running totals of this receiver's runs, mirrored into /metrics. */
export interface RetentionStats {
  runs: number;
  failures: number;
  partitionsDropped: Map<string, number>;
  rowsDeleted: Map<string, number>;
  /** refused_rows as the last run counted it (skipped runs count too); null before the first count. */
  refusedRows: RefusedRowsCount | null;
}

/**
 * Session advisory lock that makes one receiver at a time run retention: two would race for
 * the same partitions and batches. It ends with the session if the connection dies.
 */
const RETENTION_LOCK = 7_264_529_301;

/**
 * Retention (docs/read-api.md §7), run with the partition check: monthly partitions of the raw
 * tables older than their window are dropped whole (with their interaction keys); the old rows
 * of their default partitions, gateway telemetry, rollup buckets, refused rows, resolved alerts
 * and ended webhook deliveries are deleted in bounded batches. Each run also counts the refused rows, so that
 * /metrics shows that some wait for an operator.
 */
export class RetentionJob {
  private readonly totals: RetentionStats = { runs: 0, failures: 0, partitionsDropped: new Map(), rowsDeleted: new Map(), refusedRows: null };
  private stopping = false;

  constructor(
    private readonly options: RetentionJobOptions,
    private readonly log: Logger,
  ) {}

  stats(): RetentionStats {
    return this.totals;
  }

  /** A run in progress starts no new batch or partition: shutdown does not wait for a long purge. */
  stop(): void {
    this.stopping = true;
  }

  /** One run on `client` (a connection of its own: it holds a session lock until the end). */
  async run(client: pg.ClientBase, nowMs: number = Date.now()): Promise<RetentionRun> {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK]);
    if (rows[0]?.ok !== true) {
      await this.countRefusedRows(client);
      return { skipped: true, partitions: [], rowsDeleted: {}, complete: true };
    }
    const started = Date.now();
    const partitions: DroppedPartition[] = [];
    const rowsDeleted: Record<string, number> = {};
    let complete = true;
    try {
      const o = this.options;
      const limits: RetentionLimits = {
        lockTimeoutMs: o.lockTimeoutMs,
        statementTimeoutMs: o.statementTimeoutMs,
        batchRows: o.batchRows,
        expired: () => this.stopping || Date.now() >= started + o.maxRunMs,
      };
      const p = o.policy;
      for (const [table, days] of [['agent_telemetry', p.agentTelemetryDays], ['agent_interactions', p.agentInteractionsDays]] as const) {
        const cutoff = cutoffMs(nowMs, days);
        const r = await dropExpiredPartitions(client, table, cutoff, limits);
        partitions.push(...r.dropped);
        add(rowsDeleted, 'agent_interaction_keys', r.keysDeleted);
        complete &&= r.complete;
        const d = await purgeDefaultPartition(client, table, cutoff, limits);
        add(rowsDeleted, d.partition, d.deleted);
        add(rowsDeleted, 'agent_interaction_keys', d.keysDeleted);
        complete &&= d.complete;
      }
      const gateway = await purgeGatewayTelemetry(client, cutoffMs(nowMs, p.gatewayTelemetryDays), limits);
      add(rowsDeleted, 'gateway_telemetry', gateway.deleted);
      complete &&= gateway.complete;
      for (const spec of ROLLUP_TABLES) {
        const r = await purgeRollupBuckets(client, spec, p, nowMs, limits);
        add(rowsDeleted, spec.table, r.deleted);
        complete &&= r.complete;
      }
      const refused = await purgeRefusedRows(client, cutoffMs(nowMs, p.refusedRowsDays), limits);
      add(rowsDeleted, 'refused_rows', refused.deleted);
      complete &&= refused.complete;
      const alerts = await purgeResolvedAlerts(client, cutoffMs(nowMs, p.resolvedAlertsDays), limits);
      add(rowsDeleted, 'agent_alerts', alerts.deleted);
      complete &&= alerts.complete;
      // pruneWebhookHistory runs its batches to the end: it starts only while the run has time.
      if (limits.expired()) complete = false;
      else {
        const webhooks = await pruneWebhookHistory(client, new Date(cutoffMs(nowMs, p.webhookHistoryDays)));
        add(rowsDeleted, 'webhook_deliveries', webhooks.deliveries);
        add(rowsDeleted, 'webhooks', webhooks.webhooks);
      }
    } catch (err) {
      this.totals.failures++;
      this.count(partitions, rowsDeleted);
      this.log.warn({ err: (err as Error).message, code: (err as { code?: string }).code, partitions: partitions.map((d) => d.name), rowsDeleted }, 'retention run failed; the next partition check tries again');
      throw err;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]).catch(() => undefined);
    }
    await this.countRefusedRows(client);
    this.totals.runs++;
    this.count(partitions, rowsDeleted);
    if (partitions.length > 0 || Object.keys(rowsDeleted).length > 0 || !complete) {
      this.log.info(
        {
          partitions: partitions.map((d) => ({ name: d.name, estimated_rows: d.estimatedRows })),
          rowsDeleted,
          complete,
          ms: Date.now() - started,
        },
        complete ? 'retention removed expired data' : 'retention removed expired data; the rest waits for the next partition check',
      );
    }
    return { skipped: false, partitions, rowsDeleted, complete };
  }

  /** A failed count keeps the previous one: the gauge is a hint, the run's outcome is what matters. */
  private async countRefusedRows(client: pg.ClientBase): Promise<void> {
    try {
      this.totals.refusedRows = await countRefusedRows(client);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'counting refused_rows failed; machpay_refused_rows keeps its previous value');
    }
  }

  private count(partitions: readonly DroppedPartition[], rowsDeleted: Record<string, number>): void {
    for (const d of partitions) this.totals.partitionsDropped.set(d.table, (this.totals.partitionsDropped.get(d.table) ?? 0) + 1);
    for (const [table, n] of Object.entries(rowsDeleted)) this.totals.rowsDeleted.set(table, (this.totals.rowsDeleted.get(table) ?? 0) + n);
  }
}

function add(rowsDeleted: Record<string, number>, table: string, n: number): void {
  if (n > 0) rowsDeleted[table] = (rowsDeleted[table] ?? 0) + n;
}
