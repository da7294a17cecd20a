import { EVENT_TYPES, type EventType } from './event-types.js';

/**
 * The two ingest endpoints of docs/protocol.md §1. An endpoint is this small integer
 * everywhere (it is one byte of a request's record in the ring); its name (metric labels)
 * and path (routes, signed bytes) are looked up in ENDPOINTS.
 */
export const Endpoint = { Agent: 1, Ingest: 2 } as const;
export type Endpoint = (typeof Endpoint)[keyof typeof Endpoint];

export type EndpointName = 'agent' | 'ingest';

export interface EndpointInfo {
  readonly name: EndpointName;
  readonly path: string;
  /** The event types it accepts (§5); any other type is `unknown_type` there. */
  readonly eventTypes: readonly EventType[];
}

export const ENDPOINTS: { readonly [E in Endpoint]: EndpointInfo } = {
  [Endpoint.Agent]: { name: 'agent', path: '/v1/agent', eventTypes: [EVENT_TYPES.agentInteraction, EVENT_TYPES.agentTelemetry] },
  [Endpoint.Ingest]: { name: 'ingest', path: '/v1/ingest', eventTypes: [EVENT_TYPES.gatewayRequest] },
};

/** Every endpoint, in code order. */
export const ALL_ENDPOINTS: readonly Endpoint[] = [Endpoint.Agent, Endpoint.Ingest];
