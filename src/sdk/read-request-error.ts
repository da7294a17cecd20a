/**
 * A read the receiver refused or that could not be made. `code` is the receiver's
 * (docs/read-api.md "Error codes", docs/protocol.md §6: `bad_signature`, `invalid_query`, …)
 * or the SDK's own `network_error`, `request_timeout`, `unexpected_status`, `signing_failed`.
 */
export class MachPayReadError extends Error {
  override readonly name = 'MachPayReadError';
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status that carried the code; null when no response arrived. */
    readonly status: number | null,
  ) {
    super(`${code}: ${message}`);
  }
}
