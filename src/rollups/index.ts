/**
 * Rollups: what each COPY transaction stored is tallied into rollup_pending in that same
 * transaction; any receiver's TallyFolder (run in a thread of its own by TallyFolderThread)
 * folds the tallies into the minute, hour and day tables (and, with ClickHouse, an outbox
 * sent by ClickhouseOutboxSender). Design, precision and queries: README.md in this folder.
 */
export { TallyFolder, type TallyFolderOptions, type TallyFolderStats } from './tally-folder.js';
export { TallyFolderThread, type TallyFolderThreadOptions } from './tally-folder-thread.js';
export { ClickhouseOutboxSender, type OutboxSenderOptions, type OutboxSenderStats } from './clickhouse-outbox-sender.js';
export { ClickhouseRollupSink, CLICKHOUSE_SCHEMA_DIR, ROLLUP_TABLE } from './clickhouse-sink.js';
export { PENDING_TALLY_COPY, PendingTallyError, pendingTallyCopyRows, stagedPendingSql, writePendingTallies, type StagedTable } from './pending-tallies.js';
export type { RollupGroup } from './types.js';
export {
  addDecodedCounts,
  addEncodedHistogram,
  decodedCounts,
  decodeHistogram,
  encodeHistogram,
  HIGHEST_LATENCY_MS,
  LOWEST_LATENCY_MS,
  mergeEncodedHistograms,
  newMergeHistogram,
  percentiles,
  precisionBound,
  readEncodedCounts,
  SIGNIFICANT_DIGITS,
  valueAtIndex,
  type LatencyHistogram,
  type LatencyPercentiles,
} from './latency-histogram.js';
export type { VendorBreakdownEntry } from './hourly-row-merge.js';
