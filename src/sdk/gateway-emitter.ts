import { checkSource, EVENT_TYPES, randomUuid, rfc3339, type CloudEvent, type EventValue } from './cloudevents.js';
import { int, resolveDeliveryOptions, type DeliveryOptions } from './delivery-options.js';
import { MachPayConfigError, MachPayInputError } from './errors.js';
import { eventTimeMs, FIELD_LIMITS, requireBoolean, requireLatencyMs, requireString, truncate } from './field-checks.js';
import { toInt64, type Int64Input } from './int64.js';
import type { DeliveryStats } from './delivery-ledger.js';
import { BatchTransport } from './transport.js';

export interface GatewayEmitterOptions extends DeliveryOptions {
  /** The gateway's API key (`mpk_live_…` or `mpk_test_…`), sent as `Authorization: Bearer`. */
  apiKey: string;
  /** CloudEvents `source`; with the event id it is the row's key. Default `urn:machpay:gateway`. */
  source?: string | undefined;
}

/** One request seen by a payment gateway (`com.machpay.gateway.request.v1`). */
export interface GatewayRequestInput {
  gatewayId: string;
  vendorId: string;
  /** Cut to 512 characters; NUL and unpaired surrogates become U+FFFD. */
  route: string;
  method: string;
  /** 100–599. */
  statusCode: number;
  latencyMs: number;
  agentId?: string | undefined;
  amountAtomic?: Int64Input | undefined;
  paymentVerified?: boolean | undefined;
  /** 0–1. */
  riskScore?: number | undefined;
  errorCode?: string | undefined;
  /** When it happened. Default: now. */
  time?: Date | number | undefined;
}

// docs/protocol.md §4: a prefix, then at least 32 random bytes in base64url (≥ 43 characters).
const API_KEY = /^mpk_(live|test)_[A-Za-z0-9_-]{43,}$/;

/**
 * The seller-side producer: records each request a payment gateway served as a
 * CloudEvent for `POST /v1/ingest`, authorised with an API key. Batching, retries and
 * stats are the same as {@link TelemetryEmitter}'s.
 */
export class GatewayEmitter {
  private readonly source: string;
  private readonly transport: BatchTransport;

  constructor(options: GatewayEmitterOptions) {
    const delivery = resolveDeliveryOptions(options);
    if (typeof options.apiKey !== 'string' || !API_KEY.test(options.apiKey)) {
      // The message never repeats the key: it may be a secret pasted in the wrong place.
      throw new MachPayConfigError('apiKey', 'must look like mpk_live_… or mpk_test_… followed by ≥ 43 base64url characters');
    }
    this.source = checkSource(options.source ?? 'urn:machpay:gateway');
    const headers = { Authorization: `Bearer ${options.apiKey}` };
    this.transport = new BatchTransport(delivery, '/v1/ingest', () => Promise.resolve({ ...headers }));
  }

  /** Starts delivery; events recorded earlier are sent now. Idempotent. */
  start(): void {
    this.transport.start();
  }

  /** Queues one request and returns its CloudEvent id (a random UUID). Throws {@link MachPayInputError} on invalid input. */
  recordRequest(input: GatewayRequestInput): string {
    const statusCode = input.statusCode;
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) throw new MachPayInputError('statusCode', 'must be an integer in [100, 599]');
    const t = this.transport;
    const data: Record<string, EventValue> = {
      gateway_id: requireString(input.gatewayId, 'gatewayId', FIELD_LIMITS.id),
      vendor_id: requireString(input.vendorId, 'vendorId', FIELD_LIMITS.id),
      route: truncate(input.route, 'route', FIELD_LIMITS.route) ?? '',
      method: requireString(input.method, 'method', FIELD_LIMITS.requestMethod),
      status_code: statusCode,
      latency_ms: requireLatencyMs(input.latencyMs, 'latencyMs'),
    };
    if (data['route'] === '') throw new MachPayInputError('route', 'must be a non-empty string');
    if (input.agentId !== undefined) data['agent_id'] = requireString(input.agentId, 'agentId', FIELD_LIMITS.id);
    if (input.amountAtomic !== undefined) data['amount_atomic'] = t.int64(toInt64(input.amountAtomic, 'amountAtomic', 0n));
    if (input.paymentVerified !== undefined) data['payment_verified'] = requireBoolean(input.paymentVerified, 'paymentVerified');
    if (input.riskScore !== undefined) {
      const r = input.riskScore;
      if (typeof r !== 'number' || !(r >= 0 && r <= 1)) throw new MachPayInputError('riskScore', 'must be a number in [0, 1]');
      data['risk_score'] = r;
    }
    if (input.errorCode !== undefined) data['error_code'] = requireString(input.errorCode, 'errorCode', FIELD_LIMITS.errorCode);
    const timeMs = eventTimeMs(input.time, 'time');

    const id = randomUuid();
    const event: CloudEvent = { specversion: '1.0', id, source: this.source, type: EVENT_TYPES.gatewayRequest, time: rfc3339(timeMs), data };
    t.enqueue(event);
    return id;
  }

  /** Sends everything queued now; resolves when nothing is queued or in flight. Requires start(). */
  flush(): Promise<void> {
    return this.transport.flush();
  }

  /** Delivers what is queued and resolves with the final stats within `deadlineMs` (default 5000). */
  stop(options: { deadlineMs?: number | undefined } = {}): Promise<DeliveryStats> {
    return this.transport.close(int(options.deadlineMs, 'deadlineMs', 5000, 0, 24 * 3_600_000));
  }

  stats(): DeliveryStats {
    return this.transport.stats();
  }
}
