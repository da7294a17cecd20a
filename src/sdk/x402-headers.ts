/**
 * What the SDK reads of x402's HTTP headers, for recording only: it never creates, signs or
 * checks a payment. x402 v2 names the headers `PAYMENT-REQUIRED` (the 402 challenge),
 * `PAYMENT-SIGNATURE` (the payment) and `PAYMENT-RESPONSE` (the settlement); v1 sends the
 * challenge as the 402's JSON body, and `X-PAYMENT` / `X-PAYMENT-RESPONSE`. Each header is
 * base64 of JSON. Anything malformed reads as absent: recording must never fail a request.
 */

/** Request headers that carry a payment, v2 first. */
export const X402_PAYMENT_HEADERS = ['payment-signature', 'x-payment'] as const;
/** Response headers that carry the settlement, v2 first. */
export const X402_SETTLEMENT_HEADERS = ['payment-response', 'x-payment-response'] as const;
/** The v2 challenge header of a 402. */
export const X402_CHALLENGE_HEADER = 'payment-required';

/** The figures of one payment option, a payment, or a settlement that telemetry keeps. */
export interface X402Terms {
  /** Atomic units as a decimal string (int64), when stated. */
  amountAtomic?: string | undefined;
  /** The token: an ERC-20 address or an SPL mint. */
  asset?: string | undefined;
  network?: string | undefined;
}

export interface X402Settlement {
  success: boolean;
  /** The chain transaction, kept as the interaction's `signature` for audit. */
  transaction?: string | undefined;
  errorReason?: string | undefined;
  /** Set by schemes that settle less than they authorised (`upto`). */
  amountAtomic?: string | undefined;
  network?: string | undefined;
  payer?: string | undefined;
}

const INT64_MAX = 9223372036854775807n;
const MAX_HEADER_CHARS = 64 * 1024;

/** The first of `names` that `get` finds, decoded; null when none is present or it does not decode. */
export function decodeX402Header(get: (name: string) => string | null | undefined, names: readonly string[]): Record<string, unknown> | null {
  for (const name of names) {
    const value = get(name);
    if (typeof value === 'string' && value !== '') return decodeBase64Json(value);
  }
  return null;
}

/** A JSON object from standard or URL-safe base64, without Buffer (browsers and edge runtimes have none). */
export function decodeBase64Json(value: string): Record<string, unknown> | null {
  if (value.length > MAX_HEADER_CHARS) return null;
  try {
    const binary = atob(value.trim().replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return asRecord(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return null;
  }
}

/** The terms of a payment: v2 states what it accepted; v1's EVM `exact` payload carries the authorised value. */
export function paymentTerms(payment: Record<string, unknown>): X402Terms {
  const accepted = asRecord(payment['accepted']);
  if (accepted !== null) return requirementTerms(accepted);
  const authorization = asRecord(asRecord(payment['payload'])?.['authorization']);
  return { amountAtomic: atomic(authorization?.['value']), network: text(payment['network']) };
}

/** The terms of the first option a 402 challenge offers (v2 `amount`, v1 `maxAmountRequired`). */
export function challengeTerms(challenge: Record<string, unknown>): X402Terms {
  const accepts = challenge['accepts'];
  const first = Array.isArray(accepts) ? asRecord(accepts[0]) : null;
  return first === null ? {} : requirementTerms(first);
}

/** The `error` a 402 challenge states, if any (v1 and v2 alike). */
export function challengeError(challenge: Record<string, unknown>): string | undefined {
  return text(challenge['error']);
}

export function settlement(value: Record<string, unknown>): X402Settlement {
  return {
    success: value['success'] === true,
    transaction: text(value['transaction']),
    errorReason: text(value['errorReason']),
    amountAtomic: atomic(value['amount']),
    network: text(value['network']),
    payer: text(value['payer']),
  };
}

function requirementTerms(requirement: Record<string, unknown>): X402Terms {
  return {
    amountAtomic: atomic(requirement['amount'] ?? requirement['maxAmountRequired']),
    asset: text(requirement['asset']),
    network: text(requirement['network']),
  };
}

/** A decimal int64 ≥ 0 as a string, or undefined: a malformed amount is left out rather than refused by the emitter. */
function atomic(value: unknown): string | undefined {
  const s = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof s !== 'string' || !/^\d{1,19}$/.test(s)) return undefined;
  return BigInt(s) <= INT64_MAX ? BigInt(s).toString() : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
