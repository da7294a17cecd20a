import type { HttpResponse } from 'uWebSockets.js';
import { errorBody, errorStatus, type RequestErrorCode } from '../protocol/index.js';

/** The status lines of every status the receiver answers with. */
const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  204: '204 No Content',
  304: '304 Not Modified',
  308: '308 Permanent Redirect',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `${status} Status`;
}

/** Headers beyond content-type: `retry-after` goes with 429 and 503, `allow` with 405. */
export interface ReplyOptions {
  /** Seconds; written when above 0. */
  retryAfter?: number;
  /** Ends the connection after answering (used when the body was not read). */
  close?: boolean;
  /** `Cache-Control: no-store`, for answers that hold a tenant's data. */
  noStore?: boolean;
  /** The methods of an `Allow` header. */
  allow?: readonly string[];
}

/** Writes a complete JSON response in one corked write. */
export function sendJson(res: HttpResponse, status: number, body: string, retryAfter = 0, close = false): void {
  reply(res, status, body, { retryAfter, close });
}

/** A complete JSON response with the headers of `opts`, in one corked write. */
export function reply(res: HttpResponse, status: number, body: string, opts: ReplyOptions = {}): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json');
    if (opts.noStore === true) res.writeHeader('cache-control', 'no-store');
    if (opts.retryAfter !== undefined && opts.retryAfter > 0) res.writeHeader('retry-after', String(opts.retryAfter));
    if (opts.allow !== undefined) res.writeHeader('allow', opts.allow.join(', '));
    res.end(body, opts.close === true);
  });
}

/** The error body of `code` at its status; `retry-after` only with 429 and 503. */
export function sendError(res: HttpResponse, code: RequestErrorCode, message: string | undefined, retryAfter: number, close = false): void {
  const status = errorStatus(code);
  sendJson(res, status, errorBody(code, message), status === 429 || status === 503 ? retryAfter : 0, close);
}

/** 405 with the methods the path does take. */
export function sendMethodNotAllowed(res: HttpResponse, allow: readonly string[]): void {
  reply(res, 405, errorBody('method_not_allowed'), { allow });
}

export function sendNoContent(res: HttpResponse): void {
  res.cork(() => {
    res.writeStatus(statusLine(204)).endWithoutBody();
  });
}

export function sendText(res: HttpResponse, status: number, contentType: string, body: string): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).end(body);
  });
}
