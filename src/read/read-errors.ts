import type { HttpResponse } from 'uWebSockets.js';
import { REQUEST_ERRORS, type RequestErrorCode } from '../protocol/index.js';
import { sendJson } from './http-reply.js';

/**
 * The codes the read API adds to the ingest table (docs/read-api.md, "Error codes"), in the
 * same `{status, message}` shape. The read routes answer with these and with the ingest
 * codes that apply to them (401s of a signature or key, `not_found`, 413, 429, 405).
 */
export const READ_ERRORS = {
  invalid_query: { status: 400, message: 'A query parameter is unknown or malformed.' },
  invalid_link_code: { status: 400, message: 'The link code is unknown, used or expired.' },
  invalid_settings: { status: 400, message: 'A setting is unknown or out of range.' },
  invalid_webhook_url: { status: 400, message: 'The webhook URL is not allowed.' },
  invalid_request: { status: 400, message: 'The request body is not the JSON object this endpoint takes.' },
  forbidden: { status: 403, message: 'The API key lacks the scope this endpoint needs.' },
  already_linked: { status: 409, message: 'The agent is linked to another tenant.' },
  internal_error: { status: 500, message: 'The request could not be answered; try again.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ReadErrorCode = keyof typeof READ_ERRORS;

/** Every code a read route can answer with. */
export type ApiErrorCode = ReadErrorCode | RequestErrorCode;

export function errorStatus(code: ApiErrorCode): number {
  return code in READ_ERRORS ? READ_ERRORS[code as ReadErrorCode].status : REQUEST_ERRORS[code as RequestErrorCode].status;
}

function defaultMessage(code: ApiErrorCode): string {
  return code in READ_ERRORS ? READ_ERRORS[code as ReadErrorCode].message : REQUEST_ERRORS[code as RequestErrorCode].message;
}

/** The one error body shape: `{"error": {"code", "message"}}`. */
export function readErrorBody(code: ApiErrorCode, message?: string): string {
  return JSON.stringify({ error: { code, message: message ?? defaultMessage(code) } });
}

/** A failure a read handler returns as a value (never thrown past the route). */
export class ReadError {
  constructor(
    readonly code: ApiErrorCode,
    readonly message?: string,
    readonly retryAfter = 0,
  ) {}
}

export function sendReadError(res: HttpResponse, err: ReadError): void {
  sendJson(res, errorStatus(err.code), readErrorBody(err.code, err.message), err.retryAfter);
}

/** The one answer for an agent that is unknown, unlinked or someone else's (docs/read-api.md §1). */
export const AGENT_NOT_FOUND = new ReadError('not_found', 'No such agent, or not one this principal may read.');
