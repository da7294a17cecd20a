/**
 * `com.machpay.gateway.request.v1` → one `gateway_telemetry` row (docs/protocol.md §5), carrying
 * the API key's tenant and the event's (source, id) as its natural key. Written in column
 * order; on the first error the caller rolls the writer back to the row's start.
 */
import type { CopyTextWriter } from '../copy-text-writer.js';
import { INT32_MAX } from '../int64.js';
import { bool, int64, optionalNumber, optionalText, requiredInt, requiredText } from './column-fields.js';
import type { Envelope } from './envelope.js';

/** `tenantId` was checked once per request (decode-and-encode.ts) to fit VARCHAR(64). */
export function encodeGatewayRequest(env: Envelope, tenantId: string, w: CopyTextWriter): string | null {
  const d = env.data;
  w.timestampField(env.time.seconds, env.time.micros);
  w.textField(tenantId);
  w.textField(env.source); // checked by envelope.ts: ≤ 256 ASCII URI characters
  w.textField(env.id); // checked by envelope.ts: ≤ 128 characters, storable
  return (
    requiredText(w, d.gateway_id, 64, 'data.gateway_id') ??
    requiredText(w, d.vendor_id, 64, 'data.vendor_id') ??
    requiredText(w, d.route, 512, 'data.route') ??
    requiredText(w, d.method, 16, 'data.method') ??
    requiredInt(w, d.status_code, 100, 599, 'data.status_code') ??
    requiredInt(w, d.latency_ms, 0, INT32_MAX, 'data.latency_ms') ??
    optionalText(w, d.agent_id, 64, 'data.agent_id') ??
    int64(w, d.amount_atomic, false, true, 'data.amount_atomic') ??
    bool(w, d.payment_verified, false, 'data.payment_verified') ??
    optionalNumber(w, d.risk_score, 0, 1, 'data.risk_score') ??
    optionalText(w, d.error_code, 64, 'data.error_code')
  );
}
