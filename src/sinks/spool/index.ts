/**
 * The local durable log that holds accepted events while PostgreSQL cannot take them:
 * appends are acknowledged only once fsync'ed, survive kill -9 and power loss, and are read
 * back in order until acknowledged. Format: record-format.ts; start-up rules: recovery.ts.
 */
export { Spool, type SpoolOptions, type AppendResult, type SpoolRecord, type SpoolStats } from './spool.js';
export { SpoolError, SPOOL_ERRORS, type SpoolErrorCode } from './spool-error.js';
export { MAX_PAYLOAD_BYTES } from './record-format.js';
