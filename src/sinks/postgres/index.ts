/** The PostgreSQL sink: one COPY transaction per batch of worker rows, natural keys stored once, a row PostgreSQL refuses failing only its own request. */
export { emptyBatch, TABLES } from './batch.js';
export type { BatchTask, CopyBatch, InsertedGroup, TableName, TaskRowSource } from './batch.js';
export { PostgresCopySink } from './copy-sink.js';
export type { RefusedRequest, WriteOutcome } from './copy-sink.js';
