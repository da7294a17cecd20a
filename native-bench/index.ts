/**
 * The ceilings the end-to-end figures are divided by. The CPU-only ones run as their own
 * processes (so they can be pinned to the receiver's cores and cannot disturb the bench
 * process): verify-ceiling.js, codec-decode.js, ring-handoff.js, and http-ceiling.js (a
 * server). The sink ceiling needs the bench's PostgreSQL and is a function.
 */
export { measureCopyCeiling, copyRows, type CopyCeiling, type CopyRun } from './copy-ceiling.js';
export type { VerifyCeiling } from './verify-ceiling.js';
