/** The CloudEvent types of PROTOCOL.md §5 and the endpoint that takes each. */

export type Endpoint = 'agent' | 'ingest';

export const EVENT_TYPES = {
  agentInteraction: 'com.machpay.agent.interaction.v1',
  agentTelemetry: 'com.machpay.agent.telemetry.v1',
  gatewayRequest: 'com.machpay.gateway.request.v1',
} as const;
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** Types accepted per endpoint; any other type is `unknown_type` there. */
export const ENDPOINT_EVENT_TYPES: { readonly [E in Endpoint]: readonly EventType[] } = {
  agent: [EVENT_TYPES.agentInteraction, EVENT_TYPES.agentTelemetry],
  ingest: [EVENT_TYPES.gatewayRequest],
};
