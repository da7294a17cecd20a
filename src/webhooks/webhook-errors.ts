import { errorStatus, REQUEST_ERRORS, type RequestErrorCode } from '../protocol/index.js';

/**
 * A refusal that carries its stable code (docs/read-api.md "Error codes", one table in
 * src/protocol) to the route, which turns it into the error body.
 */
export class WebhookRequestError extends Error {
  override readonly name = 'WebhookRequestError';
  readonly status: number;
  constructor(
    readonly code: RequestErrorCode,
    message?: string,
  ) {
    super(message ?? REQUEST_ERRORS[code].message);
    this.status = errorStatus(code);
  }
}
