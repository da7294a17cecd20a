/**
 * Every error code the receiver answers a request with, ingest and read side alike
 * (docs/protocol.md §6, docs/read-api.md "Error codes"), its HTTP status and its default
 * message. Codes cross the worker boundary as these strings, never as `err.message` text,
 * so the wire contract lives in this one table.
 */

export const REQUEST_ERRORS = {
  invalid_body: { status: 400, message: 'The request body could not be decoded.' },
  no_valid_events: { status: 400, message: 'No event in the request was valid.' },
  invalid_query: { status: 400, message: 'A query parameter is unknown or malformed.' },
  invalid_request: { status: 400, message: 'The request body is not the JSON object this endpoint takes.' },
  invalid_link_code: { status: 400, message: 'The link code is unknown, used or expired.' },
  invalid_settings: { status: 400, message: 'A setting is unknown or out of range.' },
  invalid_webhook_url: { status: 400, message: 'The webhook URL is not an allowed http or https URL.' },
  missing_signature: { status: 401, message: 'A signature header is missing.' },
  bad_signature: { status: 401, message: 'The request signature is malformed or does not verify.' },
  timestamp_out_of_window: { status: 401, message: 'X-MachPay-Timestamp is too far from the receiver clock.' },
  invalid_api_key: { status: 401, message: 'The API key is missing, unknown or revoked.' },
  forbidden: { status: 403, message: 'The caller lacks the scope this endpoint needs.' },
  not_found: { status: 404, message: 'No such endpoint or resource.' },
  method_not_allowed: { status: 405, message: 'Method not allowed on this endpoint.' },
  already_linked: { status: 409, message: 'The agent is linked to another tenant.' },
  body_too_large: { status: 413, message: 'The request body is over the size limit.' },
  too_many_events: { status: 413, message: 'The request carries more events than allowed.' },
  not_storable: { status: 422, message: 'PostgreSQL refused a row of this request; nothing from it was stored.' },
  unsupported_media_type: { status: 415, message: 'Unsupported Content-Type.' },
  unsupported_encoding: { status: 415, message: 'Unsupported Content-Encoding.' },
  rate_limited: { status: 429, message: 'Rate limit exceeded.' },
  overloaded: { status: 429, message: 'The receiver is at capacity.' },
  internal_error: { status: 500, message: 'The request could not be answered; try again.' },
  not_ready: { status: 503, message: 'The receiver cannot serve this request right now; retry after Retry-After.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type RequestErrorCode = keyof typeof REQUEST_ERRORS;

export function errorStatus(code: RequestErrorCode): number {
  return REQUEST_ERRORS[code].status;
}

export function isRequestErrorCode(code: string): code is RequestErrorCode {
  return Object.hasOwn(REQUEST_ERRORS, code);
}

/** Per-event rejection codes (`rejected[].code`). */
export const EVENT_ERROR_CODES = ['invalid_event', 'unknown_type', 'agent_mismatch'] as const;
export type EventErrorCode = (typeof EVENT_ERROR_CODES)[number];

export interface EventRejection {
  index: number;
  id: string | null;
  code: EventErrorCode;
  message: string;
}

/** The one error body shape of docs/protocol.md §6. */
export function errorBody(code: RequestErrorCode, message?: string, rejected?: readonly EventRejection[]): string {
  const error: { code: string; message: string } = { code, message: message ?? REQUEST_ERRORS[code].message };
  return JSON.stringify(rejected === undefined ? { error } : { error, rejected });
}
