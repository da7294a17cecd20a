import type { HttpResponse } from 'uWebSockets.js';
import { errorBody, REQUEST_ERRORS, type RequestErrorCode } from '../protocol/index.js';

const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  202: '202 Accepted',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `${status} Status`;
}

/**
 * Writes a complete JSON response in one corked write. `retryAfter` goes with 429 and 503;
 * `close` ends the connection after answering (used when the body was not read).
 */
export function sendJson(res: HttpResponse, status: number, body: string, retryAfter = 0, close = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json');
    if (retryAfter > 0) res.writeHeader('retry-after', String(retryAfter));
    res.end(body, close);
  });
}

export function sendError(res: HttpResponse, code: RequestErrorCode, message: string | undefined, retryAfter: number, close = false): void {
  const status = REQUEST_ERRORS[code].status;
  sendJson(res, status, errorBody(code, message), status === 429 || status === 503 ? retryAfter : 0, close);
}

export function sendText(res: HttpResponse, status: number, contentType: string, body: string): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).end(body);
  });
}
