/**
 * The error codes the webhook endpoints answer with (docs/read-api.md §6 and the conventions
 * it shares with docs/protocol.md §6), each with its HTTP status and default message. Codes an
 * injected authenticator returns pass through as it gave them.
 */
export const WEBHOOK_ERRORS = {
  invalid_body: { status: 400, message: 'The request body is not a valid webhook registration.' },
  invalid_query: { status: 400, message: 'A query parameter is malformed.' },
  invalid_webhook_url: { status: 400, message: 'The webhook URL is not an allowed http or https URL.' },
  forbidden: { status: 403, message: 'This API key lacks the admin scope.' },
  not_found: { status: 404, message: 'No such webhook.' },
  method_not_allowed: { status: 405, message: 'Method not allowed on this endpoint.' },
  body_too_large: { status: 413, message: 'The request body is over the size limit.' },
  unsupported_media_type: { status: 415, message: 'The request body must be application/json.' },
  not_ready: { status: 503, message: 'The database is not reachable; try again shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type WebhookErrorCode = keyof typeof WEBHOOK_ERRORS;

/** A refusal that carries its stable code to the route, which turns it into the error body. */
export class WebhookRequestError extends Error {
  override readonly name = 'WebhookRequestError';
  readonly status: number;
  constructor(
    readonly code: WebhookErrorCode,
    message?: string,
  ) {
    super(message ?? WEBHOOK_ERRORS[code].message);
    this.status = WEBHOOK_ERRORS[code].status;
  }
}

/** The one error body shape: `{"error": {"code", "message"}}`. */
export function webhookErrorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
