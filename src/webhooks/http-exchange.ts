import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { webhookErrorBody } from './webhook-errors.js';

/**
 * The uWebSockets.js side of the webhook endpoints: what a handler must copy out of the
 * request before its first await (uWS request objects live only for the synchronous call),
 * the body, and replies that are skipped when the client has gone.
 */

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

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

  error(status: number, code: string, message: string, close = false): void {
    this.send(status, webhookErrorBody(code, message), close);
  }

  noContent(): void {
    if (this.finished) return;
    this.finished = true;
    this.res.cork(() => {
      this.res.writeStatus('204 No Content').endWithoutBody();
    });
  }

  private send(status: number, body: string, close = false): void {
    if (this.finished) return;
    this.finished = true;
    this.res.cork(() => {
      this.res
        .writeStatus(`${status} ${STATUS_TEXT[status] ?? 'Status'}`)
        .writeHeader('content-type', 'application/json')
        .writeHeader('cache-control', 'no-store')
        .end(body, close);
    });
  }
}
