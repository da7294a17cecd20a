/**
 * Rollups: per-minute HDR latency histograms with counts and spend, written to ClickHouse
 * (delta rows) and merged into PostgreSQL's agent_stats_hourly / gateway_stats_hourly.
 * Design, precision and queries: README.md in this folder.
 */
export { RollupService, type RollupMetricsHooks } from './rollup-service.js';
export type { RollupDestination, RollupGroup, RollupOptions, RollupStats } from './types.js';
export {
  addEncodedHistogram,
  decodeHistogram,
  encodeHistogram,
  HIGHEST_LATENCY_MS,
  LOWEST_LATENCY_MS,
  mergeEncodedHistograms,
  newMergeHistogram,
  percentiles,
  precisionBound,
  SIGNIFICANT_DIGITS,
  type LatencyHistogram,
  type LatencyPercentiles,
} from './latency-histogram.js';
export { CLICKHOUSE_SCHEMA_DIR, ROLLUP_TABLE } from './clickhouse-sink.js';
export type { VendorBreakdownEntry } from './hourly-row-merge.js';
