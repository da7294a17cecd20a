/**
 * PostgreSQL as the receiver uses it: the pool and one-off clients, the schema migrations
 * and monthly partitions, the embedded server used when no DATABASE_URL is given, the
 * health probe and readiness, the one classification of PostgreSQL errors, and the session
 * limits (timeouts, keepalive, synchronous_commit) every connection carries.
 */
export { createPool, dropConnections, endPool, withClient } from './pool.js';
export { inTransaction } from './transaction.js';
export { migrate, SCHEMA_DIR, type MigrationResult } from './migrations.js';
export { ensureMonthlyPartitions, listMonthlyPartitions, MONTHLY_TABLES, partitionName, type MonthlyPartition } from './partitions.js';
export { openEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js';
export { openDatabase, type OpenDatabase } from './open-database.js';
export {
  PostgresHealth,
  readiness,
  DEFAULT_POSTGRES_HEALTH_OPTIONS,
  type PostgresHealthOptions,
  type PostgresStatus,
  type Readiness,
  type ReadinessCheck,
  type ReadinessInputs,
  type SpoolReadiness,
} from './health.js';
export { classifyPgError, classifySqlState, type FailureKind, type PgErrorClass } from './pg-errors.js';
export { APPLICATION_NAME, connectionConfig, DEFAULT_PG_SESSION_SETTINGS, sessionSettings, type PgSessionSettings } from './session-settings.js';
