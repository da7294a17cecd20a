import type { EventTimeLimits, PackedGroups } from '../../codec/index.js';
import { EVENT_ERROR_CODES } from '../../protocol/index.js';

/**
 * What crosses the thread boundary: the settings a worker gets once at start-up, and one
 * task's input (ring positions) and output (statuses, bodies, codes and COPY rows).
 * Structured clone carries these, so they hold plain data only; the output's row buffers
 * move instead of being copied (outputTransferList).
 */

/** What a worker is told once, at start-up (Piscina workerData). */
export interface WorkerSettings {
  ring: SharedArrayBuffer;
  maxDecodedBytes: number;
  maxEvents: number;
  /** Tally accepted rows into rollup groups (ROLLUPS on). */
  rollups: boolean;
  /**
   * How far before and after the receiver's clock an event's time may lie (docs/protocol.md
   * §2; EVENT_MAX_AGE_SECONDS, EVENT_MAX_FUTURE_SECONDS). Absent: the protocol's defaults.
   */
  eventTimeLimits?: EventTimeLimits;
}

/** One task: the ring positions of published requests, in arrival order. */
export interface TaskInput {
  positions: number[];
}

/** Numbers per request in TaskOutput.requestRowEnds: [bytes, rows] of interactions, telemetry, gateway. */
export const REQUEST_ROW_ENDS = 6;

/** Event outcomes counted per endpoint: index = endpoint offset + outcome. */
export const EVENT_OUTCOMES = ['accepted', ...EVENT_ERROR_CODES] as const;

export interface TaskOutput {
  /** Per request, in the order of `positions`: HTTP status and the response body. */
  statuses: number[];
  bodies: string[];
  /** Error code of a refused request, or '' for a 202 (whose rows are in this output). */
  codes: string[];
  /** COPY rows of every accepted event in this task, per table (formats: codec COPY_FORMATS). */
  interactions: Uint8Array;
  interactionRows: number;
  telemetry: Uint8Array;
  telemetryRows: number;
  gateway: Uint8Array;
  gatewayRows: number;
  /** The natural key of each interaction row, same order (codec interactionKeyRows, COPY binary). */
  interactionKeys: Uint8Array;
  /**
   * Where each request's rows end, cumulative over the task: for request i, at REQUEST_ROW_ENDS × i,
   * the byte and row ends in `interactions`, `telemetry` and `gateway` (the ends of the previous
   * request for a refused one). The sink splits a batch PostgreSQL refuses along these lines.
   */
  requestRowEnds: Uint32Array;
  /** Interaction and gateway rows of this task grouped for the rollups (empty with ROLLUPS off). */
  groups: PackedGroups;
  /** [endpoint agent | endpoint ingest] x EVENT_OUTCOMES. */
  eventCounts: number[];
}

/**
 * The buffers of `out` that move to the main thread instead of being copied: each non-empty
 * array that spans the whole of its ArrayBuffer. TaskProcessor builds those for this output
 * alone (exact-size copies), so moving them detaches nothing the worker touches again, and a
 * task's rows exist once instead of three times (the worker's copy, the message, the main
 * thread's copy), which is megabytes of malloc churn per task at full load. Zero-length
 * constants stay behind; a view into a larger or shared buffer is left to structured clone.
 */
export function outputTransferList(out: TaskOutput): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const view of [out.interactions, out.interactionKeys, out.telemetry, out.gateway, out.requestRowEnds, out.groups.nums, out.groups.latencies]) {
    const buffer = view.buffer;
    if (view.byteLength > 0 && view.byteOffset === 0 && view.byteLength === buffer.byteLength && buffer instanceof ArrayBuffer && !list.includes(buffer)) list.push(buffer);
  }
  return list;
}
