/**
 * PostgreSQL as the receiver uses it: the pool and one-off clients, the schema migrations
 * and monthly partitions, the embedded server used when no DATABASE_URL is given, the
 * health probe behind readiness, and the one classification of PostgreSQL errors.
 */
export { createPool, withClient } from './pool.js';
export { migrate, SCHEMA_DIR, type MigrationResult } from './migrations.js';
export { ensureMonthlyPartitions, MONTHLY_TABLES, partitionName } from './partitions.js';
export { openEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js';
export { openDatabase, type OpenDatabase } from './open-database.js';
export { PostgresHealth } from './health.js';
export { classifyPgError, type FailureKind } from './pg-errors.js';
