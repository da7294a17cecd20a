import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { errorBody, isRequestErrorCode } from '../protocol/index.js';
import { reply, sendNoContent } from '../server/index.js';

/**
 * The uWebSockets.js side of the webhook endpoints: what a handler must copy out of the
 * request before its first await (uWS request objects live only for the synchronous call),
 * the body, and replies that are skipped when the client has gone.
 */
export class Exchange {
  private finished = false;
  readonly headers: Record<string, string> = {};
  readonly query: string;
  readonly params: string[] = [];

  constructor(
    private readonly res: HttpResponse,
    req: HttpRequest,
    paramCount: number,
  ) {
    req.forEach((key, value) => (this.headers[key] = value));
    this.query = req.getQuery() ?? '';
    for (let i = 0; i < paramCount; i++) this.params.push(req.getParameter(i) ?? '');
    // Aborted or answered: either way nothing more may be written.
    res.onAborted(() => (this.finished = true));
  }

  /**
   * The whole body, or null when it is over `maxBytes` (then 413 has been sent and the
   * connection is closed, since the rest of the body is not read). Call synchronously in the
   * handler: uWS drops data that arrives before onData is set.
   */
  readBody(maxBytes: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      this.res.onData((chunk, isLast) => {
        if (done) return;
        size += chunk.byteLength;
        if (size > maxBytes) {
          done = true;
          this.error(413, 'body_too_large', `The body is over ${maxBytes} bytes.`, true);
          resolve(null);
          return;
        }
        // uWS reuses the chunk's memory after this callback returns: copy it.
        chunks.push(Buffer.from(new Uint8Array(chunk)));
        if (isLast) {
          done = true;
          resolve(Buffer.concat(chunks, size));
        }
      });
    });
  }

  get open(): boolean {
    return !this.finished;
  }

  json(status: number, body: unknown): void {
    this.send(status, JSON.stringify(body));
  }

  /** An error body; `code` is one of the table's, or passed on as an authenticator gave it. */
  error(status: number, code: string, message: string, close = false): void {
    this.send(status, isRequestErrorCode(code) ? errorBody(code, message) : JSON.stringify({ error: { code, message } }), close);
  }

  noContent(): void {
    if (this.finished) return;
    this.finished = true;
    sendNoContent(this.res);
  }

  private send(status: number, body: string, close = false): void {
    if (this.finished) return;
    this.finished = true;
    reply(this.res, status, body, { noStore: true, close });
  }
}
