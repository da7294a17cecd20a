/**
 * Validation of `com.machpay.agent.interaction.v1` events (docs/protocol.md §2, §5) into one
 * array per column, ready for `unnest`. The essentials the receiver checks: CloudEvents
 * attributes, RFC 3339 time, the agent named in the event is the signer, required fields,
 * types, ranges and column lengths. int64 fields are kept as decimal strings (PostgreSQL
 * parses them exactly); as JSON.parse is used, JSON numbers above 2^53 have already lost
 * precision and are refused rather than stored wrong.
 */

export interface Rejection {
  index: number;
  id: string | null;
  code: 'invalid_event' | 'unknown_type' | 'agent_mismatch';
  message: string;
}

export class InteractionColumns {
  readonly time: string[] = [];
  readonly agentId: string[] = [];
  readonly vendorId: string[] = [];
  readonly requestUrl: (string | null)[] = [];
  readonly requestMethod: (string | null)[] = [];
  readonly amountAtomic: (string | null)[] = [];
  readonly tokenMint: (string | null)[] = [];
  readonly nonce: string[] = [];
  readonly success: boolean[] = [];
  readonly latencyMs: number[] = [];
  readonly errorType: (string | null)[] = [];
  readonly errorMessage: (string | null)[] = [];
  readonly signature: (string | null)[] = [];

  get length(): number {
    return this.time.length;
  }

  /** The 13 arrays in the column order of the INSERT. */
  values(): unknown[] {
    return [
      this.time,
      this.agentId,
      this.vendorId,
      this.requestUrl,
      this.requestMethod,
      this.amountAtomic,
      this.tokenMint,
      this.nonce,
      this.success,
      this.latencyMs,
      this.errorType,
      this.errorMessage,
      this.signature,
    ];
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const INT64_TEXT = /^-?\d{1,19}$/;
const INT64_MAX = 9223372036854775807n;
const INT32_MAX = 2147483647;
const INTERACTION = 'com.machpay.agent.interaction.v1';
const AGENT_TYPES = new Set([INTERACTION, 'com.machpay.agent.telemetry.v1']);

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, max: number, name: string, required: boolean): string | null | Error {
  if (v === undefined || v === null) return required ? new Error(`${name}: required`) : null;
  if (typeof v !== 'string' || (required && v.length === 0) || v.length > max || v.includes('\u0000')) {
    return new Error(`${name}: must be a string of at most ${max} characters`);
  }
  return v;
}

function int64(v: unknown, name: string, required: boolean, nonNegative: boolean): string | null | Error {
  if (v === undefined || v === null) return required ? new Error(`${name}: required`) : null;
  let s: string;
  if (typeof v === 'number' && Number.isSafeInteger(v)) s = String(v);
  else if (typeof v === 'string' && INT64_TEXT.test(v)) s = v;
  else return new Error(`${name}: must be an integer (int64) as a JSON number below 2^53 or a decimal string`);
  const b = BigInt(s);
  if (b > INT64_MAX || b < -INT64_MAX - 1n || (nonNegative && b < 0n)) return new Error(`${name}: out of range`);
  return s;
}

/** Appends the event's row to `cols`, or returns why it was rejected. */
export function addInteraction(evt: unknown, index: number, agentId: string, cols: InteractionColumns): Rejection | null {
  if (!isObject(evt)) return { index, id: null, code: 'invalid_event', message: 'event: must be an object' };
  const id = typeof evt.id === 'string' && evt.id.length > 0 && evt.id.length <= 128 ? evt.id : null;
  const reject = (code: Rejection['code'], message: string): Rejection => ({ index, id, code, message });
  if (evt.specversion !== '1.0') return reject('invalid_event', 'specversion: must be "1.0"');
  if (id === null) return reject('invalid_event', 'id: must be a non-empty string of at most 128 characters');
  if (typeof evt.source !== 'string' || evt.source.length === 0 || evt.source.length > 256) {
    return reject('invalid_event', 'source: must be a non-empty URI-reference of at most 256 characters');
  }
  if (typeof evt.type !== 'string' || !AGENT_TYPES.has(evt.type)) return reject('unknown_type', `type: not an agent event type`);
  // The peer implements the type the side-by-side scenarios send; telemetry would be a second INSERT of the same shape.
  if (evt.type !== INTERACTION) return reject('unknown_type', 'type: this peer stores interactions only');
  if (typeof evt.time !== 'string' || !RFC3339.test(evt.time) || Number.isNaN(Date.parse(evt.time))) {
    return reject('invalid_event', 'time: must be an RFC 3339 date-time');
  }
  const d = evt.data;
  if (!isObject(d)) return reject('invalid_event', 'data: must be an object');
  if (d.agent_id !== agentId) {
    return typeof d.agent_id === 'string' ? reject('agent_mismatch', 'data.agent_id: not the signing agent') : reject('invalid_event', 'data.agent_id: required');
  }
  const vendor = text(d.vendor_id, 64, 'data.vendor_id', true);
  const url = text(d.request_url, 512, 'data.request_url', false);
  const method = text(d.request_method, 16, 'data.request_method', false);
  const amount = int64(d.amount_atomic, 'data.amount_atomic', false, true);
  const mint = text(d.token_mint, 64, 'data.token_mint', false);
  const nonce = int64(d.nonce, 'data.nonce', true, false);
  const errorType = text(d.error_type, 64, 'data.error_type', false);
  const errorMessage = text(d.error_message, 4096, 'data.error_message', false);
  const signature = text(d.signature, 128, 'data.signature', false);
  for (const v of [vendor, url, method, amount, mint, nonce, errorType, errorMessage, signature]) {
    if (v instanceof Error) return reject('invalid_event', v.message);
  }
  if (typeof d.success !== 'boolean') return reject('invalid_event', 'data.success: must be a boolean');
  const latency = d.latency_ms;
  if (typeof latency !== 'number' || !Number.isInteger(latency) || latency < 0 || latency > INT32_MAX) {
    return reject('invalid_event', 'data.latency_ms: must be an integer from 0 to 2^31-1');
  }
  cols.time.push(evt.time);
  cols.agentId.push(agentId);
  cols.vendorId.push(vendor as string);
  cols.requestUrl.push(url as string | null);
  cols.requestMethod.push(method as string | null);
  cols.amountAtomic.push(amount as string | null);
  cols.tokenMint.push(mint as string | null);
  cols.nonce.push(nonce as string);
  cols.success.push(d.success);
  cols.latencyMs.push(latency);
  cols.errorType.push(errorType as string | null);
  cols.errorMessage.push(errorMessage as string | null);
  cols.signature.push(signature as string | null);
  return null;
}
