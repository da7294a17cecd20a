import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { BodyKind, parseContentEncoding, parseContentType } from '../codec/index.js';
import type { Config } from '../config.js';
import { Endpoint, ENDPOINTS, REQUEST_ERRORS, signingPrefix, type RequestErrorCode } from '../protocol/index.js';
import type { Metrics } from '../metrics.js';
import type { IngestPipeline, Ticket } from '../pipeline/index.js';
import { recordSize, writeRecordHeader, writeRecordTenant } from '../pipeline/worker/index.js';
import type { RingBuffer } from '../ring/index.js';
import type { ApiKeyCache, KeyLookup } from '../api-keys/index.js';
import { parseAgentHeaders } from './agent-auth.js';
import type { RateLimiter } from './rate-limiter.js';
import { sendError, sendJson } from './responses.js';

const CONTENT_LENGTH = /^\d{1,10}$/;

/** One ingest request, from its headers to its response. */
export class Exchange implements Ticket {
  position = -1;
  bodyBytes = 0;
  agentId = '';
  received = 0;
  aborted = false;
  done = false;
  /** The reservation, as a Buffer over shared memory; null until reserved. */
  record: Buffer | null = null;
  bodyAt = 0;
  /** Set when the request is refused but its (bounded) body is still read, so the
   *  client sees the answer instead of a reset connection mid-upload. */
  refusal: RequestErrorCode | null = null;
  refusalMessage: string | undefined = undefined;
  apiKey: KeyLookup | null | Promise<KeyLookup | null> = null;
  /** Retry-After of a rate-limit refusal (the bucket's own refill time). */
  retryAfter = 0;

  constructor(
    readonly res: HttpResponse,
    readonly endpoint: Endpoint,
    readonly startedAt: number,
  ) {}
}

export interface IngestRouteDeps {
  config: Config;
  agentLimiter: RateLimiter;
  keyLimiter: RateLimiter;
  ring: RingBuffer;
  pipeline: IngestPipeline<Exchange>;
  apiKeys: ApiKeyCache;
  metrics: Metrics;
  isReady(): boolean;
}

/**
 * The POST handlers of /v1/agent and /v1/ingest. Everything knowable from the headers is
 * checked before a byte of body is kept; the body then streams straight into its ring
 * reservation (never buffered past the limit), and the request is handed to the pipeline.
 */
export class IngestRoute {
  private readonly windowMs: number;
  /** Requests whose body is still arriving, for the slow-body deadline and the concurrency cap. */
  private readonly receiving = new Set<Exchange>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly d: IngestRouteDeps) {
    this.windowMs = d.config.timestampWindowSeconds * 1000;
    this.ackLatency = { [Endpoint.Agent]: d.metrics.ackLatency.labels(ENDPOINTS[Endpoint.Agent].name), [Endpoint.Ingest]: d.metrics.ackLatency.labels(ENDPOINTS[Endpoint.Ingest].name) };
    // One coarse timer for every request instead of a timer per request.
    this.sweeper = setInterval(() => this.closeSlowBodies(), Math.min(1000, d.config.bodyTimeoutMs));
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private closeSlowBodies(): void {
    const deadline = performance.now() - this.d.config.bodyTimeoutMs;
    for (const ex of this.receiving) {
      if (ex.startedAt > deadline) continue;
      this.receiving.delete(ex);
      // A client this slow is not owed an answer; closing runs onAborted, which frees its ring space.
      if (!ex.aborted) ex.res.close();
    }
  }

  handle(res: HttpResponse, req: HttpRequest, endpoint: Endpoint): void {
    const ex = new Exchange(res, endpoint, performance.now());
    const c = this.d.config;
    if (!this.d.isReady()) return this.refuseNow(ex, 'not_ready', 'The receiver is starting, stopping or cannot reach PostgreSQL.');
    if (this.receiving.size + this.d.pipeline.inFlight >= c.maxConcurrentRequests) {
      return this.refuseNow(ex, 'overloaded', 'Too many requests in progress; retry after the delay.', true);
    }

    const lengthHeader = req.getHeader('content-length');
    if (!CONTENT_LENGTH.test(lengthHeader)) {
      // The body is reserved in the ring at its full size up front, and the HTTP layer does
      // not deliver chunked request bodies at all: both need a Content-Length.
      return this.refuseNow(ex, 'invalid_body', 'A Content-Length header is required (chunked request bodies are not supported).', true);
    }
    ex.bodyBytes = Number(lengthHeader);
    if (ex.bodyBytes > c.maxBodyBytes) {
      return this.refuseNow(ex, 'body_too_large', `The body is ${ex.bodyBytes} bytes; the limit is ${c.maxBodyBytes}.`, true);
    }

    // Read every header now: `req` is only valid until this function returns.
    let prefix = '';
    let publicKey: Uint8Array | null = null;
    let signature: Uint8Array | null = null;
    if (endpoint === Endpoint.Agent) {
      const creds = parseAgentHeaders(
        req.getHeader('x-machpay-agent'),
        req.getHeader('x-machpay-timestamp'),
        req.getHeader('x-machpay-signature'),
        Date.now(),
        this.windowMs,
      );
      if (typeof creds === 'string') {
        ex.refusal = creds;
      } else if (!this.d.agentLimiter.take(creds.agentId, Date.now())) {
        ex.refusal = 'rate_limited';
        ex.retryAfter = this.d.agentLimiter.retryAfterSeconds(creds.agentId);
      } else {
        ex.agentId = creds.agentId;
        publicKey = creds.publicKey;
        signature = creds.signature;
        prefix = signingPrefix(creds.timestamp, req.getUrl());
      }
    } else {
      ex.apiKey = this.d.apiKeys.resolve(req.getHeader('authorization'));
      if (ex.apiKey === null) ex.refusal = 'invalid_api_key';
      else if (!(ex.apiKey instanceof Promise)) this.limitKey(ex, ex.apiKey);
    }

    const kind = parseContentType(req.getHeader('content-type'));
    let attributes: string[] | null = null;
    if (ex.refusal === null) {
      if (kind === null) {
        ex.refusal = 'unsupported_media_type';
        ex.refusalMessage = 'Use application/cloudevents-batch+json, application/cloudevents+json, application/cloudevents-batch+msgpack, or application/json with ce-* headers.';
      } else if (kind === BodyKind.Binary) {
        attributes = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time'].map((h) => req.getHeader(h));
        if (attributes.slice(0, 4).some((v) => v === '')) {
          ex.refusal = 'unsupported_media_type';
          ex.refusalMessage = 'application/json is binary mode and needs the ce-specversion, ce-id, ce-source and ce-type headers.';
        }
      }
    }
    const encoding = parseContentEncoding(req.getHeader('content-encoding'));
    if (ex.refusal === null && encoding === null) {
      ex.refusal = 'unsupported_encoding';
      ex.refusalMessage = 'Only gzip and identity are accepted.';
    }

    if (ex.refusal === null) {
      const header = {
        endpoint,
        kind: kind as number,
        gzip: encoding === 'gzip',
        bodyLength: ex.bodyBytes,
        signingPrefix: prefix,
        publicKey,
        signature,
        agentId: ex.agentId,
        tenantId: '',
        attributes,
      };
      const size = recordSize(header);
      if (size > this.d.ring.maxRecordBytes) return this.refuseNow(ex, 'body_too_large', 'The request headers and body are too large.', true);
      ex.position = this.d.ring.reserve(size);
      if (ex.position < 0) {
        // Answered once the body is in (read, not kept), like the refusals above: answering
        // now and closing would reset a client still uploading, which then never sees the 429
        // and its Retry-After (nor keeps its connection for the retry).
        ex.refusal = 'overloaded';
        ex.refusalMessage = 'The ingest pipeline is full; retry after the delay.';
      } else {
        const view = this.d.ring.payload(ex.position);
        ex.record = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
        ex.bodyAt = writeRecordHeader(ex.record, header);
      }
    }

    this.receiving.add(ex);
    res.onAborted(() => this.aborted(ex));
    res.onData((chunk, isLast) => this.data(ex, chunk, isLast));
  }

  private limitKey(ex: Exchange, key: KeyLookup): void {
    if (this.d.keyLimiter.take(key.id, Date.now())) return;
    ex.refusal = 'rate_limited';
    ex.retryAfter = this.d.keyLimiter.retryAfterSeconds(key.id);
  }

  private data(ex: Exchange, chunk: ArrayBuffer, isLast: boolean): void {
    const n = chunk.byteLength;
    if (ex.received + n > ex.bodyBytes) {
      // More bytes than Content-Length announced: refuse rather than overrun the reservation.
      ex.refusal = 'invalid_body';
      ex.refusalMessage = 'The body is longer than its Content-Length.';
    } else if (ex.record !== null && ex.refusal === null && n > 0) {
      // The chunk is only valid during this callback: copy it into shared memory now.
      ex.record.set(new Uint8Array(chunk), ex.bodyAt + ex.received);
    }
    ex.received += n;
    if (isLast) void this.complete(ex);
  }

  private async complete(ex: Exchange): Promise<void> {
    this.receiving.delete(ex);
    if (ex.refusal === null && ex.received !== ex.bodyBytes) {
      ex.refusal = 'invalid_body';
      ex.refusalMessage = 'The body is shorter than its Content-Length.';
    }
    if (ex.refusal === null && ex.apiKey !== null && typeof (ex.apiKey as Promise<unknown>).then === 'function') {
      try {
        ex.apiKey = await ex.apiKey;
      } catch {
        ex.apiKey = null;
        ex.refusal = 'not_ready';
        ex.refusalMessage = 'API keys cannot be checked right now.';
      }
      if (ex.refusal === null && ex.apiKey === null) ex.refusal = 'invalid_api_key';
      else if (ex.refusal === null && ex.apiKey !== null) this.limitKey(ex, ex.apiKey);
    }
    if (ex.aborted || ex.refusal !== null) {
      if (ex.position >= 0) this.d.ring.release(ex.position);
      ex.position = -1;
      if (!ex.aborted && ex.refusal !== null) this.refuseNow(ex, ex.refusal, ex.refusalMessage);
      return;
    }
    if (ex.endpoint === Endpoint.Ingest) writeRecordTenant(ex.record as Buffer, (ex.apiKey as KeyLookup).tenantId);
    ex.record = null;
    this.d.ring.publish(ex.position);
    this.d.pipeline.submit(ex);
  }

  private aborted(ex: Exchange): void {
    ex.aborted = true;
    this.receiving.delete(ex);
    // Not yet handed to the pipeline: nothing else will free the reservation.
    if (ex.record !== null && ex.position >= 0 && !ex.done) {
      this.d.ring.release(ex.position);
      ex.position = -1;
      ex.record = null;
    }
  }

  /** Called by the pipeline with the final outcome of a submitted request. */
  answer(ex: Exchange, status: number, body: string, code: string): void {
    ex.done = true;
    this.count(ex, status);
    if (code !== '') this.d.metrics.requestErrors.labels(ENDPOINTS[ex.endpoint].name, code).inc();
    if (!ex.aborted) sendJson(ex.res, status, body, status === 503 || status === 429 ? this.d.config.retryAfterSeconds : 0);
  }

  private refuseNow(ex: Exchange, code: RequestErrorCode, message?: string, close = false): void {
    ex.done = true;
    this.count(ex, REQUEST_ERRORS[code].status);
    this.d.metrics.requestErrors.labels(ENDPOINTS[ex.endpoint].name, code).inc();
    if (!ex.aborted) sendError(ex.res, code, message, ex.retryAfter > 0 ? ex.retryAfter : this.d.config.retryAfterSeconds, close);
  }

  /** Label children bound once per (endpoint, status): no label lookup or string per request. */
  private readonly requestCounters = new Map<number, { inc(): void }>();
  private readonly ackLatency: Record<Endpoint, { observe(seconds: number): void }>;

  private count(ex: Exchange, status: number): void {
    const key = ex.endpoint * 1000 + status;
    let counter = this.requestCounters.get(key);
    if (counter === undefined) {
      counter = this.d.metrics.requests.labels(ENDPOINTS[ex.endpoint].name, String(status));
      this.requestCounters.set(key, counter);
    }
    counter.inc();
    this.ackLatency[ex.endpoint].observe((performance.now() - ex.startedAt) / 1000);
  }
}
