/**
 * The wire contract in code (docs/protocol.md): endpoints, event types, the signed bytes of
 * an agent request, base58 agent ids, and every error code with its status. Free of
 * dependencies and of Node.js APIs, so the producer SDK imports it as the receiver does.
 */
export { ALL_ENDPOINTS, Endpoint, ENDPOINTS, type EndpointInfo, type EndpointName } from './endpoints.js';
export { EVENT_TYPE_OF_TABLE, EVENT_TYPES, TABLE_OF_EVENT_TYPE, type EventTable, type EventType } from './event-types.js';
export { binaryModeSignedLines, SIGNATURE_HEADERS, SIGNED_BINARY_MODE_HEADERS, signingPrefix } from './signing.js';
export { base58Decode, base58Encode } from './base58.js';
export {
  errorBody,
  errorStatus,
  EVENT_ERROR_CODES,
  isRequestErrorCode,
  REQUEST_ERRORS,
  type EventErrorCode,
  type EventRejection,
  type RequestErrorCode,
} from './errors.js';
export type {
  AgentMetrics,
  AgentSummary,
  AgentVendors,
  AlertSettings,
  BalancePoint,
  BalanceSeries,
  BalanceSnapshot,
  ChartPoint,
  GatewayChartPoint,
  GatewayMetrics,
  HistoryRow,
  LinkCode,
  LinkedAgent,
  Page,
  StatusClasses,
  StreamToken,
  VendorFigures,
  WindowFigures,
} from './read-api-types.js';
