import type { HttpResponse } from 'uWebSockets.js';
import { statusLine } from '../server/index.js';

/** Statuses the read side answers with that the ingest side never does. */
const READ_STATUS_LINES: Record<number, string> = {
  201: '201 Created',
  204: '204 No Content',
  403: '403 Forbidden',
  409: '409 Conflict',
  500: '500 Internal Server Error',
};

function line(status: number): string {
  return READ_STATUS_LINES[status] ?? statusLine(status);
}

/** A complete JSON answer in one corked write; `retryAfter` (seconds) goes with 429. */
export function sendJson(res: HttpResponse, status: number, body: string, retryAfter = 0): void {
  res.cork(() => {
    res.writeStatus(line(status)).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store');
    if (retryAfter > 0) res.writeHeader('retry-after', String(retryAfter));
    res.end(body);
  });
}

export function sendNoContent(res: HttpResponse): void {
  res.cork(() => {
    res.writeStatus(line(204)).end();
  });
}
