/**
 * machpay-receiver/sdk: the producer side of docs/protocol.md. Agents use
 * {@link TelemetryEmitter} (signed, `POST /v1/agent`); payment gateways use
 * {@link GatewayEmitter} (API key, `POST /v1/ingest`). Both batch, compress, retry and
 * count through one transport. {@link recordX402Fetch} records the x402 exchanges of an
 * agent's `fetch`, {@link gatewayMiddleware} each request a seller's server answers. An agent
 * reads its own figures back with {@link AgentReadClient} (docs/read-api.md). Runs on
 * Node ≥ 18, browsers and edge runtimes.
 */
export { TelemetryEmitter } from './telemetry-emitter.js';
export type { TelemetryEmitterOptions, TelemetryEmitterStats, InteractionInput, WalletSnapshot } from './telemetry-emitter.js';
export { GatewayEmitter } from './gateway-emitter.js';
export type { GatewayEmitterOptions, GatewayRequestInput } from './gateway-emitter.js';
export type { DeliveryOptions } from './delivery-options.js';
export type { DeliveryStats } from './delivery-ledger.js';
export type { BodyEncoding } from './batch-encoding.js';

export { recordX402Fetch } from './x402-fetch.js';
export type { FetchLike, X402FetchRecorderOptions } from './x402-fetch.js';
export { gatewayMiddleware } from './gateway-middleware.js';
export type { GatewayMiddlewareOptions, MiddlewareRequest, MiddlewareResponse } from './gateway-middleware.js';

export { AgentReadClient } from './read-client.js';
export type { AgentReadClientOptions } from './read-client.js';
export { MachPayReadError } from './read-request-error.js';
export type {
  AgentMetrics,
  AgentVendors,
  AlertSettings,
  BalancePoint,
  BalanceSeries,
  BalanceSnapshot,
  ChartPoint,
  HistoryPage,
  HistoryQuery,
  HistoryRow,
  LinkCode,
  ReadWindow,
  VendorFigures,
} from './read-types.js';

export { AgentKeypair, agentIdOf, generateKeypair, keypairFromSecretKey, loadKeypair } from './keypair.js';
export type { LoadKeypairOptions } from './keypair.js';
export { SIGNATURE_HEADERS } from '../protocol/index.js';
export { signAgentRequest, signedBytes } from './signing.js';
export type { AgentSigner, BinaryModeHeaders } from './signing.js';

export { EVENT_TYPES } from './cloudevents.js';
export type { CloudEvent, EventType } from './cloudevents.js';
export type { Int64Input } from './int64.js';
export { MachPayConfigError, MachPayInputError, SDK_ERROR_CODES } from './errors.js';
export type { DeliveryFailure, SdkErrorCode } from './errors.js';
export { SDK_VERSION } from './version.js';
