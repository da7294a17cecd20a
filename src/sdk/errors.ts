/**
 * The codes the SDK reports for outcomes it decides itself. They sit beside the
 * receiver's own codes (docs/protocol.md §6: `rate_limited`, `bad_signature`, …), which the
 * SDK passes through unchanged in {@link DeliveryFailure.code} and in the stats.
 */
export const SDK_ERROR_CODES = {
  network_error: 'The request failed before a response arrived (refused, reset, DNS).',
  request_timeout: 'No response arrived within requestTimeoutMs.',
  deadline_exceeded: 'The batch could not be delivered before its deadline (batchDeadlineMs).',
  event_too_large: 'A single event is larger than the receiver accepts (413, or over maxBodyBytes).',
  unexpected_status: 'The receiver answered with a status or body the protocol does not define.',
  stopped: 'stop() reached its deadline before the events were delivered.',
  signing_failed: 'The signer threw while signing a request.',
  wallet_provider_failed: 'walletProvider() threw or timed out; the snapshot was sent without a wallet.',
  internal_error: 'A bug in the SDK; the batch was counted as failed rather than lost silently.',
} as const;

export type SdkErrorCode = keyof typeof SDK_ERROR_CODES;

/** A delivery problem, as given to `onError` and kept as `stats().lastError`. */
export interface DeliveryFailure {
  /** A receiver code from docs/protocol.md §6 (or a per-event code such as `invalid_event`), or an {@link SdkErrorCode}. */
  readonly code: string;
  /** Human-readable detail; never contains keys or signatures. */
  readonly message: string;
  /** The HTTP status that carried the code, or null when no response was involved. */
  readonly status: number | null;
  /** The CloudEvent ids affected. */
  readonly eventIds: readonly string[];
}

/** An option passed to an emitter or helper is invalid; `key` names it. Thrown at construction. */
export class MachPayConfigError extends Error {
  override readonly name = 'MachPayConfigError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/** A `record*()` argument is invalid; `field` names it. Thrown synchronously, nothing is queued. */
export class MachPayInputError extends TypeError {
  override readonly name = 'MachPayInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
