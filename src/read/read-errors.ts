import type { HttpResponse } from 'uWebSockets.js';
import { errorBody, errorStatus, type RequestErrorCode } from '../protocol/index.js';
import { reply } from '../server/index.js';

/** A failure a read handler returns as a value (never thrown past the route); its code is one of docs/read-api.md "Error codes". */
export class ReadError {
  constructor(
    readonly code: RequestErrorCode,
    readonly message?: string,
    readonly retryAfter = 0,
  ) {}
}

export function sendReadError(res: HttpResponse, err: ReadError): void {
  reply(res, errorStatus(err.code), errorBody(err.code, err.message), { noStore: true, retryAfter: err.retryAfter });
}

/** The one answer for an agent that is unknown, unlinked or someone else's (docs/read-api.md §1). */
export const AGENT_NOT_FOUND = new ReadError('not_found', 'No such agent, or not one this principal may read.');
