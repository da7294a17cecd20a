/**
 * Why a spool call failed, as a stable code (never parse `message`). An append that does
 * not fit is not an error: it resolves 'full'.
 */
export const SPOOL_ERRORS = {
  spool_closed: 'The spool is closed.',
  spool_failed: 'A spool write or sync failed; the spool accepts nothing until it is reopened.',
  spool_write_failed: 'Writing this batch to the spool failed; nothing of it was acknowledged.',
  spool_ack_out_of_order: 'Only the record next() returned can be acknowledged.',
  spool_locked: 'The spool is in use by another process (a receiver, or a spool replay).',
} as const;

export type SpoolErrorCode = keyof typeof SPOOL_ERRORS;

export class SpoolError extends Error {
  override readonly name = 'SpoolError';
  constructor(
    readonly code: SpoolErrorCode,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(options?.detail === undefined ? SPOOL_ERRORS[code] : `${SPOOL_ERRORS[code]} ${options.detail}`, { cause: options?.cause });
  }
}
