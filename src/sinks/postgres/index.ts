export { migrate, SCHEMA_DIR } from './migrations.js';
export { ensureMonthlyPartitions } from './partitions.js';
export { createCopyPool, withClient } from './pool.js';
export { PostgresCopySink, classifyPgError, emptyBatch, TABLES } from './copy-sink.js';
export type { CopyBatch, InsertedGroup, TableName, WriteOutcome, FailureKind } from './copy-sink.js';
export { openEmbeddedPostgres } from './embedded.js';
export type { EmbeddedDatabase } from './embedded.js';
export * from './api-key-store.js';
export { PostgresHealth } from './health.js';
