import type { HttpResponse } from 'uWebSockets.js';
import { reply, sendNoContent as noContent } from '../server/index.js';

/** A complete JSON answer of the read API (never cached: it holds a tenant's data); `retryAfter` (seconds) goes with 429. */
export function sendJson(res: HttpResponse, status: number, body: string, retryAfter = 0): void {
  reply(res, status, body, { noStore: true, retryAfter });
}

export function sendNoContent(res: HttpResponse): void {
  noContent(res);
}
