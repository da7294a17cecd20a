import { TABLES, type CopyBatch, type TableName } from './batch.js';

/** Numbers per request in BatchTask.rows.requestRowEnds: [bytes, rows] of each table in TABLES order. */
const ENDS_PER_REQUEST = 6;

/** One accepted request's rows in a batch: views into its task's chunks, nothing copied. */
export interface RequestPart {
  /** Index in CopyBatch.tasks, and in that task's `requests` (a single row, row-parts.ts: -1 and the row's index). */
  task: number;
  position: number;
  chunks: Record<TableName, Uint8Array>;
  rows: Record<TableName, number>;
}

/** The batch cut along its requests, in batch order; empty when the batch does not know them (a spooled batch). */
export function requestParts(batch: CopyBatch): RequestPart[] {
  const parts: RequestPart[] = [];
  batch.tasks.forEach((task, t) => {
    const ends = task.rows.requestRowEnds;
    const whole: Record<TableName, Uint8Array> = {
      agent_interactions: task.rows.interactions,
      agent_telemetry: task.rows.telemetry,
      gateway_telemetry: task.rows.gateway,
    };
    task.requests.forEach((request, position) => {
      const at = request * ENDS_PER_REQUEST;
      const chunks = {} as Record<TableName, Uint8Array>;
      const rows = {} as Record<TableName, number>;
      TABLES.forEach((table, k) => {
        const byteStart = request === 0 ? 0 : (ends[at - ENDS_PER_REQUEST + 2 * k] as number);
        const rowStart = request === 0 ? 0 : (ends[at - ENDS_PER_REQUEST + 2 * k + 1] as number);
        chunks[table] = whole[table].subarray(byteStart, ends[at + 2 * k]);
        rows[table] = (ends[at + 2 * k + 1] as number) - rowStart;
      });
      parts.push({ task: t, position, chunks, rows });
    });
  });
  return parts;
}

/**
 * A batch of just these requests, written the careful way (staging, INSERT … ON CONFLICT DO
 * NOTHING, tallies over what was inserted): it carries no worker groups or key rows, which
 * describe the whole batch. The batch's new agents are registered with any part.
 */
export function batchOfParts(batch: CopyBatch, parts: readonly RequestPart[]): CopyBatch {
  const sub: CopyBatch = {
    chunks: { agent_interactions: [], agent_telemetry: [], gateway_telemetry: [] },
    rows: { agent_interactions: 0, agent_telemetry: 0, gateway_telemetry: 0 },
    formats: batch.formats,
    newAgents: batch.newAgents,
    groups: null,
    interactionKeys: [],
    tasks: [],
  };
  for (const p of parts) {
    for (const t of TABLES) {
      if (p.rows[t] === 0) continue;
      sub.chunks[t].push(p.chunks[t]);
      sub.rows[t] += p.rows[t];
    }
  }
  return sub;
}
