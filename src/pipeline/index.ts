/**
 * The main-thread side of the ingest pipeline: requests go to the worker threads
 * (TaskDispatcher), their rows to PostgreSQL or the spool (CommitScheduler), and each
 * request is answered once its rows are durable (IngestPipeline joins the two). Also here:
 * the agent registry, the spool record form of a COPY batch, and the spool's replay.
 * The worker-thread side is in worker/.
 */
export { IngestPipeline, type PipelineOptions } from './ingest-pipeline.js';
export { TaskDispatcher, type TaskDispatcherOptions, type Ticket } from './task-dispatcher.js';
export { CommitScheduler, type CommitSchedulerOptions, type CommitUnit } from './commit-scheduler.js';
export { AgentRegistry } from './agent-registry.js';
export { decodeBatch, encodeBatch } from './batch-codec.js';
export { SpoolReplayer, type ReplayHooks, type ReplayPass } from './spool-replayer.js';
