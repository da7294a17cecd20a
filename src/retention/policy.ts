/**
 * How long each kind of data is kept (docs/read-api.md §7), in whole days. Raw tables
 * partitioned by month lose whole partitions (and their default partitions' old rows in
 * batches); the rest lose rows older than the window in bounded batches.
 */
export interface RetentionPolicy {
  /** agent_telemetry, monthly partitions. */
  readonly agentTelemetryDays: number;
  /** agent_interactions, monthly partitions (and their agent_interaction_keys rows). */
  readonly agentInteractionsDays: number;
  /** gateway_telemetry, not partitioned: batched deletes. */
  readonly gatewayTelemetryDays: number;
  /** Hourly and daily rollups of agents and gateways. */
  readonly rollupDays: number;
  /** Minute rollups of agents and gateways: what 1-minute chart buckets are read from. */
  readonly minuteRollupDays: number;
  /** refused_rows: rows PostgreSQL refused during a spool replay, kept for an operator. */
  readonly refusedRowsDays: number;
  /** Ended webhook deliveries and their attempt log (pending ones stay whatever their age). */
  readonly webhookHistoryDays: number;
  /** agent_alerts resolved this long ago, by resolved_at (open alerts stay whatever their age). */
  readonly resolvedAlertsDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = Object.freeze({
  agentTelemetryDays: 30,
  agentInteractionsDays: 90,
  gatewayTelemetryDays: 90,
  rollupDays: 400,
  minuteRollupDays: 7,
  refusedRowsDays: 30,
  webhookHistoryDays: 30,
  resolvedAlertsDays: 90,
});

export const DAY_MS = 24 * 60 * 60 * 1000;

/** The instant before which data kept `days` days may go. */
export function cutoffMs(nowMs: number, days: number): number {
  return nowMs - days * DAY_MS;
}

/**
 * The oldest bucket start a table of `bucketMs` buckets still holds whole: a bucket goes only
 * once all of it is older than the cutoff, so a bucket starting at or after this is complete.
 */
export function oldestKeptBucketMs(nowMs: number, days: number, bucketMs: number): number {
  return Math.floor(cutoffMs(nowMs, days) / bucketMs) * bucketMs;
}
