/**
 * `com.machpay.agent.interaction.v1` → one `agent_interactions` row (docs/protocol.md §5).
 * Fields are validated and written in column order (row-batch.ts COPY_COLUMNS); on the
 * first error the caller rolls the writer back to the row's start.
 */
import type { RowWriter } from '../row-writer.js';
import { INT32_MAX } from '../int64.js';
import { bool, int64, optionalText, requiredInt, requiredText } from './column-fields.js';
import type { Envelope } from './envelope.js';

/**
 * error_message is TEXT in the schema; capped so one event cannot carry a megabyte of
 * log text into the table (longer messages are rejected, not truncated: we never store
 * something other than what was sent).
 */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;

export function encodeInteraction(env: Envelope, w: RowWriter): string | null {
  const d = env.data;
  w.timestampField(env.time.seconds, env.time.micros);
  return (
    requiredText(w, d.agent_id, 64, 'data.agent_id') ??
    requiredText(w, d.vendor_id, 64, 'data.vendor_id') ??
    optionalText(w, d.request_url, 512, 'data.request_url') ??
    optionalText(w, d.request_method, 16, 'data.request_method') ??
    int64(w, d.amount_atomic, false, true, 'data.amount_atomic') ??
    optionalText(w, d.token_mint, 64, 'data.token_mint') ??
    int64(w, d.nonce, true, false, 'data.nonce') ??
    bool(w, d.success, true, 'data.success') ??
    requiredInt(w, d.latency_ms, 0, INT32_MAX, 'data.latency_ms') ??
    optionalText(w, d.error_type, 64, 'data.error_type') ??
    optionalText(w, d.error_message, MAX_ERROR_MESSAGE_LENGTH, 'data.error_message') ??
    optionalText(w, d.signature, 128, 'data.signature')
  );
}
