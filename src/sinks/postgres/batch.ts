import { COPY_FORMATS, type CopyFormat, type RowGroup } from '../../codec/index.js';

/** The tables rows are copied into, in the order each transaction writes them. */
export const TABLES = ['agent_interactions', 'agent_telemetry', 'gateway_telemetry'] as const;
export type TableName = (typeof TABLES)[number];

/**
 * The workers' tally of a batch's rows, grouped by UTC minute, entity (agent or gateway) and
 * vendor: exact for the direct COPY, where the keys refuse any duplicate.
 */
export type InsertedGroup = RowGroup;

/** What the sink reads of one worker task's output (a TaskOutput is one as it is). */
export interface TaskRowSource {
  interactions: Uint8Array;
  telemetry: Uint8Array;
  gateway: Uint8Array;
  /** Per request i, at 6 × i: the byte and row ends of its rows in the three chunks above. */
  requestRowEnds: Uint32Array;
}

/** One worker task's requests in a batch, so that a batch PostgreSQL refuses can be split by request. */
export interface BatchTask {
  rows: TaskRowSource;
  /** The task's requests whose rows are in the batch (indices into requestRowEnds), in order. */
  requests: readonly number[];
}

/** COPY rows for one transaction, as handed over by the workers. */
export interface CopyBatch {
  chunks: Record<TableName, Uint8Array[]>;
  rows: Record<TableName, number>;
  /** The format of each table's chunks: the workers' (COPY_FORMATS), or what a spool record was written in. */
  formats: Record<TableName, CopyFormat>;
  /** Agents not yet known to be registered, sorted. */
  newAgents: string[];
  /** The workers' groups of every interaction and gateway row, or null when unknown (a
   *  replayed spool batch): then only the staging path can tell what was inserted. */
  groups: InsertedGroup[] | null;
  /**
   * The natural key of every agent_interactions row (codec interactionKeyRows), one chunk per
   * chunk of rows. Without them (a replayed spool batch) the batch goes through staging,
   * where the keys are taken from the staged rows.
   */
  interactionKeys: Uint8Array[];
  /** The tasks and requests the rows belong to; empty when unknown (a replayed spool batch). */
  tasks: BatchTask[];
}

export function emptyBatch(): CopyBatch {
  return {
    chunks: { agent_interactions: [], agent_telemetry: [], gateway_telemetry: [] },
    rows: { agent_interactions: 0, agent_telemetry: 0, gateway_telemetry: 0 },
    formats: { ...COPY_FORMATS },
    newAgents: [],
    groups: [],
    interactionKeys: [],
    tasks: [],
  };
}
