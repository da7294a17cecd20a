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
 * The ASCII text signed in front of the body: `machpay-v1\n{timestamp}\n{path}\n`, then in
 * binary mode the lines of binaryModeSignedLines.
 * `timestamp` is the header's value exactly as sent (milliseconds, decimal).
 */
export function signingPrefix(timestamp: string | number, path: string): string {
  return `machpay-v1\n${timestamp}\n${path}\n`;
}

/** The binary-mode headers whose values are signed, in the order they are signed (§3). */
export const SIGNED_BINARY_MODE_HEADERS = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time'] as const;

/**
 * The lines a binary-mode request signs between the prefix and the body:
 * `ce-specversion:{v}\n` … `ce-time:{v}\n`, each value exactly as sent and empty when the
 * header is absent. In binary mode the event's attributes travel in headers, so without
 * these lines a captured request could be replayed with another `ce-time` or `ce-id`.
 * `values` follows SIGNED_BINARY_MODE_HEADERS; a missing entry counts as absent.
 */
export function binaryModeSignedLines(values: readonly (string | undefined)[]): string {
  let lines = '';
  for (let i = 0; i < SIGNED_BINARY_MODE_HEADERS.length; i++) lines += `${SIGNED_BINARY_MODE_HEADERS[i] as string}:${values[i] ?? ''}\n`;
  return lines;
}
