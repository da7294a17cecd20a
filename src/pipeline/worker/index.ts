/**
 * The worker-thread side of the pipeline: what runs inside each Piscina worker (signature
 * check, gunzip, decode, validation, COPY rows), the task types that cross the thread
 * boundary, and the layout of a request's record in the ring, which the main thread writes
 * and a worker reads.
 */
export { TaskProcessor } from './process-task.js';
export { EVENT_OUTCOMES, outputTransferList, REQUEST_ROW_ENDS, type TaskInput, type TaskOutput, type WorkerSettings } from './task.js';
export { ATTRIBUTE_NAMES, readRecord, recordSize, writeRecordHeader, writeRecordTenant, type RecordHeader, type RecordView } from './request-record.js';
