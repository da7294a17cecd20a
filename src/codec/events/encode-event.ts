/**
 * One event → at most one row. The order of checks is part of the contract (which code a
 * client gets when several things are wrong): not an object, then `type`, then the
 * endpoint's types (`unknown_type`), then the agent (`agent_mismatch`), then everything
 * else (`invalid_event`).
 */
import type { RowWriter } from '../row-writer.js';
import { Endpoint, ENDPOINTS, EVENT_TYPES, type EventErrorCode } from '../../protocol/index.js';
import type { RowBatch } from '../row-batch.js';
import { newEnvelope, validateEnvelope } from './envelope.js';
import { encodeGatewayRequest } from './gateway-request.js';
import { encodeInteraction } from './interaction.js';
import { isPlainObject } from './plain-object.js';
import { encodeTelemetry } from './telemetry.js';
import { eventTimeProblem, type EventTimeWindow } from './time-window.js';

export interface EncodeOptions {
  endpoint: Endpoint;
  /** /v1/agent: the signing agent; every event's data.agent_id must name it. */
  agentId: string | null;
  /** /v1/ingest: the API key's tenant, already checked to fit tenant_id; null when it does not. */
  tenantId: string | null;
  /** The event-time window (§2) at the receiver's clock; absent: any storable time (tests, benches). */
  timeWindow?: EventTimeWindow;
}

export interface EventProblem {
  code: EventErrorCode;
  message: string;
}

/** Reused for every event (encoding is synchronous). */
const envelope = newEnvelope();

/** Appends the event's row to its table's writer and returns null, or returns why it was rejected (and appends nothing). */
export function encodeEvent(evt: unknown, opts: EncodeOptions, out: RowBatch): EventProblem | null {
  if (!isPlainObject(evt)) return { code: 'invalid_event', message: 'event: must be an object' };
  const type = evt.type;
  if (type === undefined || type === null) return { code: 'invalid_event', message: 'type: required' };
  if (typeof type !== 'string') return { code: 'invalid_event', message: 'type: must be a string' };

  if (opts.endpoint === Endpoint.Agent) {
    if (type !== EVENT_TYPES.agentInteraction && type !== EVENT_TYPES.agentTelemetry) return unknownType(ENDPOINTS[Endpoint.Agent].path);
    const data = evt.data;
    // A string naming another agent is a mismatch; any other shape is left to validation.
    if (opts.agentId !== null && isPlainObject(data) && typeof data.agent_id === 'string' && data.agent_id !== opts.agentId) {
      return { code: 'agent_mismatch', message: 'data.agent_id: does not match X-MachPay-Agent' };
    }
  } else if (type !== EVENT_TYPES.gatewayRequest) {
    return unknownType(ENDPOINTS[Endpoint.Ingest].path);
  }

  const problem = validateEnvelope(evt, envelope);
  if (problem !== null) return { code: 'invalid_event', message: problem };

  const window = opts.timeWindow;
  // A telemetry report's time is its period_end, checked where that field is read.
  if (window !== undefined && type !== EVENT_TYPES.agentTelemetry) {
    const outside = eventTimeProblem(window, envelope.time.seconds, envelope.time.micros, 'time');
    if (outside !== null) return { code: 'invalid_event', message: outside };
  }

  let message: string | null;
  let w: RowWriter;
  let mark: number;
  if (type === EVENT_TYPES.gatewayRequest) {
    if (opts.tenantId === null) return { code: 'invalid_event', message: "tenant_id: the API key's tenant is not a valid tenant id" };
    w = out.gateway;
    mark = w.mark();
    message = encodeGatewayRequest(envelope, opts.tenantId, out.gateway);
  } else if (type === EVENT_TYPES.agentInteraction) {
    w = out.interactions;
    mark = w.mark();
    message = encodeInteraction(envelope, w);
  } else {
    w = out.telemetry;
    mark = w.mark();
    message = encodeTelemetry(envelope, out.telemetry, out.jsonScratch, window);
  }
  if (message !== null) {
    w.rollback(mark); // the fields written before the bad one
    return { code: 'invalid_event', message };
  }
  w.endRow();
  if (out.tally !== null && type !== EVENT_TYPES.agentTelemetry) {
    out.tally.record(type === EVENT_TYPES.gatewayRequest ? 'gateway' : 'agent', envelope, opts.tenantId ?? '');
  }
  return null;
}

function unknownType(path: string): EventProblem {
  return { code: 'unknown_type', message: `type: not an event type accepted on ${path}` };
}
