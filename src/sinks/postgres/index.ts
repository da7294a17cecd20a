/** The PostgreSQL sink: one COPY transaction per batch of worker rows, duplicates stored once. */
export { emptyBatch, PostgresCopySink, TABLES } from './copy-sink.js';
export type { CopyBatch, InsertedGroup, TableName, WriteOutcome } from './copy-sink.js';
