/** The CloudEvent types of docs/protocol.md §5 and the table each one's rows go to. */

export const EVENT_TYPES = {
  agentInteraction: 'com.machpay.agent.interaction.v1',
  agentTelemetry: 'com.machpay.agent.telemetry.v1',
  gatewayRequest: 'com.machpay.gateway.request.v1',
} as const;
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** §5: each event type is stored in one table. */
export const TABLE_OF_EVENT_TYPE = {
  [EVENT_TYPES.agentInteraction]: 'agent_interactions',
  [EVENT_TYPES.agentTelemetry]: 'agent_telemetry',
  [EVENT_TYPES.gatewayRequest]: 'gateway_telemetry',
} as const satisfies Record<EventType, string>;
export type EventTable = (typeof TABLE_OF_EVENT_TYPE)[EventType];

/** The inverse of TABLE_OF_EVENT_TYPE (a metric labels acknowledged rows by event type). */
export const EVENT_TYPE_OF_TABLE = Object.fromEntries(
  Object.entries(TABLE_OF_EVENT_TYPE).map(([type, table]) => [table, type]),
) as { readonly [T in EventTable]: { [E in EventType]: (typeof TABLE_OF_EVENT_TYPE)[E] extends T ? E : never }[EventType] };
