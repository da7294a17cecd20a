/**
 * The agent request signature of docs/protocol.md §3: which headers carry it and the bytes
 * it covers. Producers (the SDK) and the receiver build the signed bytes with this one
 * function, so the two cannot drift apart.
 */

export const SIGNATURE_HEADERS = {
  agent: 'X-MachPay-Agent',
  timestamp: 'X-MachPay-Timestamp',
  signature: 'X-MachPay-Signature',
} as const;

/**
 * The ASCII text signed in front of the body: `machpay-v1\n{timestamp}\n{path}\n`.
 * `timestamp` is the header's value exactly as sent (milliseconds, decimal).
 */
export function signingPrefix(timestamp: string | number, path: string): string {
  return `machpay-v1\n${timestamp}\n${path}\n`;
}
