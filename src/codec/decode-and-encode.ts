/**
 * A request body → rows. Runs in the worker threads for every request (already
 * authenticated by the caller): decode, then per event validate and append its row.
 * Never throws: hostile input is expected.
 */
import { decodeEvents, type BinaryAttributes } from './decode-events.js';
import { encodeEvent, type EncodeOptions } from './events/encode-event.js';
import { MAX_ID_LENGTH } from './events/envelope.js';
import { isValidTenantId } from './events/tenant.js';
import type { EventTimeWindow } from './events/time-window.js';
import type { Endpoint, EventRejection } from '../protocol/index.js';
import type { BodyKind } from './media-type.js';
import { fitsVarchar } from './pg-text.js';
import type { RowBatch } from './row-batch.js';

export interface EventContext {
  endpoint: Endpoint;
  /** /v1/agent: the X-MachPay-Agent header (base58); every event's data.agent_id must equal it, else agent_mismatch. */
  agentId: string | null;
  /** /v1/ingest: the API key's tenant; goes into gateway_telemetry.tenant_id. */
  tenantId: string | null;
  /** More events than this → too_many_events (413). */
  maxEvents: number;
  /**
   * The event-time window (docs/protocol.md §2) at the receiver's clock, which the caller
   * moves; an event outside it is invalid_event. Absent: any storable time is accepted.
   */
  timeWindow?: EventTimeWindow;
}

export type BodyResult =
  | { ok: false; code: 'invalid_body' | 'too_many_events'; message: string }
  | { ok: true; accepted: number; rejected: EventRejection[]; latencies?: never };

/**
 * The id echoed in `rejected[]`: the event's id when it is a string of a valid id's length
 * (≤ 128 characters). A longer one is not echoed: a hostile multi-megabyte id per event,
 * JSON-escaped, would make the 202 response several times larger than the request.
 */
function rejectedId(evt: unknown): string | null {
  if (typeof evt !== 'object' || evt === null) return null;
  const id = (evt as { id?: unknown }).id;
  return typeof id === 'string' && fitsVarchar(id, MAX_ID_LENGTH) ? id : null;
}

/**
 * Decodes `body` (already gunzipped) of `kind` and appends one row per accepted event to
 * `out`. If accepted === 0 the caller answers 400 no_valid_events. Rows are appended only
 * for accepted events: a rejected event's partial row is rolled back, and should anything
 * unexpected throw, every row of this request is rolled back and the body is invalid_body.
 */
export function decodeAndEncode(
  body: Uint8Array,
  kind: BodyKind,
  binary: BinaryAttributes | null,
  ctx: EventContext,
  out: RowBatch,
): BodyResult {
  const { interactions, telemetry, gateway } = out;
  const marks = [interactions.mark(), interactions.rows, telemetry.mark(), telemetry.rows, gateway.mark(), gateway.rows] as const;
  const tallyMark = out.tally?.mark() ?? 0;
  try {
    const decoded = decodeEvents(body, kind, binary, ctx.maxEvents);
    if (!decoded.ok) return decoded;
    const opts: EncodeOptions = {
      endpoint: ctx.endpoint,
      agentId: ctx.agentId,
      tenantId: isValidTenantId(ctx.tenantId) ? ctx.tenantId : null,
    };
    if (ctx.timeWindow !== undefined) opts.timeWindow = ctx.timeWindow;
    const events = decoded.events;
    const rejected: EventRejection[] = [];
    let accepted = 0;
    for (let i = 0; i < events.length; i++) {
      const evt = events[i];
      const problem = encodeEvent(evt, opts, out);
      if (problem === null) accepted++;
      else rejected.push({ index: i, id: rejectedId(evt), code: problem.code, message: problem.message });
    }
    return { ok: true, accepted, rejected };
  } catch {
    interactions.rollback(marks[0], marks[1]);
    telemetry.rollback(marks[2], marks[3]);
    gateway.rollback(marks[4], marks[5]);
    out.tally?.rollback(tallyMark);
    return { ok: false, code: 'invalid_body', message: 'The request body could not be decoded.' };
  }
}
