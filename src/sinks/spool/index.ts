/**
 * The local durable log that holds accepted events while PostgreSQL cannot take them:
 * appends are acknowledged only once fsync'ed, survive kill -9 and power loss, and are read
 * back in order until acknowledged. Format: record-format.ts; start-up rules: recovery.ts;
 * the writer side (group commit) and the reader side (acknowledgement, damage) each in
 * their own file, joined by Spool. SpoolLock keeps a spool to one process at a time.
 */
export { Spool, type SpoolOptions, type SpoolStats } from './spool.js';
export { SpoolWriter, type AppendListener, type AppendResult } from './spool-writer.js';
export { SpoolReader, type SpoolRecord } from './spool-reader.js';
export { SpoolFiles } from './spool-files.js';
export { SpoolLock, spoolLocation, type SpoolLockHolder, type SpoolLockOptions } from './spool-lock.js';
export { recoverSpool, type RecoveredSpool } from './recovery.js';
export { SpoolError, SPOOL_ERRORS, type SpoolErrorCode } from './spool-error.js';
export { MAX_PAYLOAD_BYTES } from './record-format.js';
