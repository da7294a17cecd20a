import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { BodyKind, parseContentEncoding, parseContentType } from '../codec/index.js';
import type { Config } from '../config.js';
import { Endpoint, ENDPOINTS, REQUEST_ERRORS, signingPrefix, type RequestErrorCode } from '../protocol/index.js';
import type { Metrics } from '../metrics.js';
import type { IngestPipeline, Ticket } from '../pipeline/index.js';
import { recordSize, writeRecordHeader, writeRecordTenant, type RecordHeader } from '../pipeline/worker/index.js';
import type { RingBuffer } from '../ring/index.js';
import { AddressRanges } from '../net/index.js';
import { KeyLookupBusyError, type ApiKeyCache, type KeyLookup } from '../api-keys/index.js';
import { AdmissionBudget, clientAddressKey, REQUEST_OVERHEAD_BYTES } from './admission.js';
import { parseAgentHeaders } from './agent-auth.js';
import { RateLimiter } from './rate-limiter.js';
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
  /** The client's address key (admission.ts), for the per-address limits. */
  address = '';
  /** What the record header will say; null while the request is refused. */
  header: RecordHeader | null = null;
  /** The body so far when it arrives in more than one chunk (see IngestRoute.data). */
  staged: Buffer | null = null;
  /** Bytes charged to the admission budget while the request is unauthenticated (0: none). */
  unauthenticatedBytes = 0;
  /** Bytes charged to the budget of authenticated bodies still arriving (0: none). */
  authenticatedBytes = 0;
  /** Admitted and its body still arriving (IngestRoute's concurrency count). */
  arriving = false;
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
 * checked before a byte of body is kept, and the body is taken into the ring only once it
 * has arrived in full, so a slow upload holds no ring space and never delays the release of
 * anyone else's.
 *
 * Admission (docs/protocol.md §6):
 * - A request whose credentials are not yet checked (every agent request until a worker has
 *   verified its signature; a gateway request until its key is found) is charged its size to
 *   an AdmissionBudget, bounded in total (half the ring) and per client address, and given
 *   back when it authenticates, is answered or goes away.
 * - Each 401 is charged to the client address; an address past AUTH_FAILURE_RATE_LIMIT is
 *   answered 429 rate_limited before anything else is looked at.
 * - An agent's limit is checked at admission but charged only once the worker's verdict is
 *   not a 401, so requests with another agent's key and a bad signature cost that agent
 *   nothing. A key's limit is charged once the key is known to be valid.
 */
export class IngestRoute {
  private readonly windowMs: number;
  /** Requests whose body is still arriving, for the slow-body deadline. */
  private readonly receiving = new Set<Exchange>();
  /**
   * Of those, the ones admitted (their body is kept): with the pipeline's, what the concurrency
   * cap counts. A refused request whose body is read and dropped holds nothing but its socket,
   * so slow clients that are refused cannot fill the cap for everyone.
   */
  private admittedArriving = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly unauthenticated: AdmissionBudget;
  /** Bodies of authenticated requests still arriving are held outside the ring: bounded here. */
  private readonly authenticatedReceiving: AdmissionBudget;
  /** 401s by client address: enough for a producer with a wrong key or clock to see its 401s, too few for guessing to cost much. */
  private readonly authFailures: RateLimiter;
  /** Peers whose X-Forwarded-For names the client (TRUSTED_PROXIES); null: none. */
  private readonly trustedProxies: AddressRanges | null;

  constructor(private readonly d: IngestRouteDeps) {
    this.windowMs = d.config.timestampWindowSeconds * 1000;
    this.ackLatency = { [Endpoint.Agent]: ackLatencyByClass(d.metrics, Endpoint.Agent), [Endpoint.Ingest]: ackLatencyByClass(d.metrics, Endpoint.Ingest) };
    this.receivedBytes = { [Endpoint.Agent]: d.metrics.receivedBytes.labels(ENDPOINTS[Endpoint.Agent].name), [Endpoint.Ingest]: d.metrics.receivedBytes.labels(ENDPOINTS[Endpoint.Ingest].name) };
    this.unauthenticated = unauthenticatedBudget(d.ring.capacity, d.config.maxBodyBytes, d.config.unauthenticatedBytesPerAddress);
    this.authFailures = new RateLimiter(d.config.authFailureRateLimit, d.config.authFailureRateBurst);
    this.trustedProxies = d.config.trustedProxies === '' ? null : new AddressRanges(d.config.trustedProxies);
    this.authenticatedReceiving = new AdmissionBudget(d.ring.capacity, d.ring.capacity);
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
      // A client this slow is not owed an answer; closing runs onAborted, which gives back what it holds.
      if (!ex.aborted) ex.res.close();
    }
  }

  handle(res: HttpResponse, req: HttpRequest, endpoint: Endpoint): void {
    const ex = new Exchange(res, endpoint, performance.now());
    const c = this.d.config;
    if (!this.d.isReady()) return this.refuseNow(ex, 'not_ready', 'The receiver is starting, stopping or cannot reach PostgreSQL.');
    if (this.admittedArriving + this.d.pipeline.inFlight >= c.maxConcurrentRequests) {
      return this.refuseNow(ex, 'overloaded', 'Too many requests in progress; retry after the delay.', true);
    }

    const lengthHeader = req.getHeader('content-length');
    if (!CONTENT_LENGTH.test(lengthHeader)) {
      // The body is admitted at its full size up front, and the HTTP layer does not deliver
      // chunked request bodies at all: both need a Content-Length.
      return this.refuseNow(ex, 'invalid_body', 'A Content-Length header is required (chunked request bodies are not supported).', true);
    }
    ex.bodyBytes = Number(lengthHeader);
    if (ex.bodyBytes > c.maxBodyBytes) {
      return this.refuseNow(ex, 'body_too_large', `The body is ${ex.bodyBytes} bytes; the limit is ${c.maxBodyBytes}.`, true);
    }
    ex.address = clientAddressKey(res, this.trustedProxies === null ? '' : req.getHeader('x-forwarded-for'), this.trustedProxies);

    // Read every header now: `req` is only valid until this function returns.
    let prefix = '';
    let publicKey: Uint8Array | null = null;
    let signature: Uint8Array | null = null;
    if (!this.authFailures.allows(ex.address)) {
      ex.refusal = 'rate_limited';
      ex.refusalMessage = 'Too many requests from this address failed authentication; retry after the delay.';
      ex.retryAfter = this.authFailures.retryAfterSeconds(ex.address);
    } else if (endpoint === Endpoint.Agent) {
      const creds = parseAgentHeaders(
        req.getHeader('x-machpay-agent'),
        req.getHeader('x-machpay-timestamp'),
        req.getHeader('x-machpay-signature'),
        Date.now(),
        this.windowMs,
      );
      if (typeof creds === 'string') {
        ex.refusal = creds;
      } else if (!this.d.agentLimiter.allows(creds.agentId)) {
        // Checked, not charged: answer() charges the agent once a worker has verified the signature.
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
      else if (!(ex.apiKey instanceof Promise)) this.admitKey(ex, ex.apiKey);
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
      const header: RecordHeader = {
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
      if (recordSize(header) > this.d.ring.maxRecordBytes) return this.refuseNow(ex, 'body_too_large', 'The request headers and body are too large.', true);
      ex.header = header;
      this.admit(ex);
    }

    this.receiving.add(ex);
    res.onAborted(() => this.aborted(ex));
    res.onData((chunk, isLast) => this.data(ex, chunk, isLast));
    if (ex.apiKey instanceof Promise) this.whenKeyFound(ex, ex.apiKey);
  }

  /**
   * Charges the body to the budget it waits in. A refusal for want of room is answered once
   * the body is in (read, not kept), like the refusals above: answering now and closing would
   * reset a client still uploading, which then never sees the 429 and its Retry-After.
   */
  private admit(ex: Exchange): void {
    const cost = AdmissionBudget.cost(ex.bodyBytes);
    const authenticated = ex.endpoint === Endpoint.Ingest && !(ex.apiKey instanceof Promise);
    if (authenticated ? this.authenticatedReceiving.tryHold('', cost) : this.unauthenticated.tryHold(ex.address, cost)) {
      if (authenticated) ex.authenticatedBytes = cost;
      else ex.unauthenticatedBytes = cost;
      ex.arriving = true;
      this.admittedArriving++;
      return;
    }
    ex.refusal = 'overloaded';
    ex.refusalMessage = authenticated
      ? 'The ingest pipeline is full; retry after the delay.'
      : 'Too many unauthenticated bytes in flight from this address or in total; retry after the delay.';
  }

  /** A key looked up while the body arrives: an unknown key gives its admission back at once. */
  private whenKeyFound(ex: Exchange, lookup: Promise<KeyLookup | null>): void {
    lookup.then(
      (key) => {
        if (ex.refusal !== null || ex.done || ex.aborted) return;
        if (key === null) {
          ex.refusal = 'invalid_api_key';
          this.giveBack(ex);
          this.arrived(ex);
        }
      },
      () => undefined,
    );
  }

  /** A valid key: it may ingest, and this request is within its limit (charged now: the key is proven). */
  private admitKey(ex: Exchange, key: KeyLookup): void {
    if (!key.scopes.includes('ingest')) {
      ex.refusal = 'forbidden';
      ex.refusalMessage = 'This API key does not have the ingest scope.';
      return;
    }
    if (this.d.keyLimiter.take(key.id)) return;
    ex.refusal = 'rate_limited';
    ex.retryAfter = this.d.keyLimiter.retryAfterSeconds(key.id);
  }

  private data(ex: Exchange, chunk: ArrayBuffer, isLast: boolean): void {
    const n = chunk.byteLength;
    if (ex.received + n > ex.bodyBytes) {
      // More bytes than Content-Length announced: refuse rather than overrun the buffer.
      ex.refusal = 'invalid_body';
      ex.refusalMessage = 'The body is longer than its Content-Length.';
    } else if (ex.header !== null && ex.refusal === null && n > 0) {
      if (isLast && ex.received === 0 && !(ex.apiKey instanceof Promise)) {
        // The whole body in one chunk and nothing to wait for: straight into the ring, no copy
        // on the side. The chunk is only valid during this callback, and complete() uses it
        // before its first await.
        ex.received = n;
        void this.complete(ex, new Uint8Array(chunk));
        return;
      }
      // The chunk is only valid during this callback: keep a copy until the body is complete.
      ex.staged ??= Buffer.allocUnsafeSlow(ex.bodyBytes);
      ex.staged.set(new Uint8Array(chunk), ex.received);
    }
    ex.received += n;
    if (isLast) void this.complete(ex, null);
  }

  private async complete(ex: Exchange, wholeBody: Uint8Array | null): Promise<void> {
    this.receiving.delete(ex);
    this.arrived(ex);
    if (ex.refusal === null && ex.received !== ex.bodyBytes) {
      ex.refusal = 'invalid_body';
      ex.refusalMessage = 'The body is shorter than its Content-Length.';
    }
    if (ex.refusal === null && ex.apiKey instanceof Promise) {
      try {
        ex.apiKey = await ex.apiKey;
      } catch (err) {
        ex.apiKey = null;
        if (err instanceof KeyLookupBusyError) {
          ex.refusal = 'overloaded';
          ex.refusalMessage = 'Too many API keys are waiting to be checked; retry after the delay.';
        } else {
          ex.refusal = 'not_ready';
          ex.refusalMessage = 'API keys cannot be checked right now.';
        }
      }
      if (ex.refusal === null && ex.apiKey === null) ex.refusal = 'invalid_api_key';
      else if (ex.refusal === null && ex.apiKey !== null) this.admitKey(ex, ex.apiKey);
    }
    if (ex.aborted || ex.refusal !== null) {
      this.giveBack(ex);
      if (!ex.aborted && ex.refusal !== null) this.refuseNow(ex, ex.refusal, ex.refusalMessage);
      return;
    }
    const header = ex.header as RecordHeader;
    if (ex.endpoint === Endpoint.Ingest) header.tenantId = (ex.apiKey as KeyLookup).tenantId;
    ex.position = this.d.ring.reserve(recordSize(header));
    if (ex.position < 0) {
      this.giveBack(ex);
      return this.refuseNow(ex, 'overloaded', 'The ingest pipeline is full; retry after the delay.');
    }
    const view = this.d.ring.payload(ex.position);
    const record = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    const bodyAt = writeRecordHeader(record, header);
    if (ex.endpoint === Endpoint.Ingest) writeRecordTenant(record, header.tenantId);
    if (ex.bodyBytes > 0) record.set(wholeBody ?? (ex.staged as Buffer), bodyAt);
    ex.staged = null;
    ex.header = null;
    // The body is in the ring now; a gateway request is authenticated, an agent request stays
    // charged as unauthenticated until a worker has verified it (answer()).
    this.authenticatedReceiving.release('', ex.authenticatedBytes);
    ex.authenticatedBytes = 0;
    if (ex.endpoint === Endpoint.Ingest) this.giveBack(ex);
    this.d.ring.publish(ex.position);
    this.d.pipeline.submit(ex);
  }

  /** Returns whatever the request holds in the admission budgets and its side buffer. */
  private giveBack(ex: Exchange): void {
    if (ex.unauthenticatedBytes > 0) this.unauthenticated.release(ex.address, ex.unauthenticatedBytes);
    if (ex.authenticatedBytes > 0) this.authenticatedReceiving.release('', ex.authenticatedBytes);
    ex.unauthenticatedBytes = 0;
    ex.authenticatedBytes = 0;
    ex.staged = null;
  }

  private arrived(ex: Exchange): void {
    if (!ex.arriving) return;
    ex.arriving = false;
    this.admittedArriving--;
  }

  private aborted(ex: Exchange): void {
    ex.aborted = true;
    this.receiving.delete(ex);
    this.arrived(ex);
    // Handed to the pipeline (position set): answer() gives back what it holds.
    if (ex.position < 0) this.giveBack(ex);
  }

  /** Called by the pipeline with the final outcome of a submitted request. */
  answer(ex: Exchange, status: number, body: string, code: string): void {
    ex.done = true;
    if (ex.endpoint === Endpoint.Agent) {
      // The worker verified the signature unless it answered 401: only then is the agent
      // charged (docs/protocol.md §6); a 401 is charged to the address instead.
      if (status === 401) this.authFailures.charge(ex.address);
      else this.d.agentLimiter.charge(ex.agentId);
    }
    this.giveBack(ex);
    this.count(ex, status);
    if (code !== '') this.d.metrics.requestErrors.labels(ENDPOINTS[ex.endpoint].name, code).inc();
    if (!ex.aborted) sendJson(ex.res, status, body, status === 503 || status === 429 ? this.d.config.retryAfterSeconds : 0);
  }

  private refuseNow(ex: Exchange, code: RequestErrorCode, message?: string, close = false): void {
    ex.done = true;
    const status = REQUEST_ERRORS[code].status;
    if (status === 401 && ex.address !== '') this.authFailures.charge(ex.address);
    this.count(ex, status);
    this.d.metrics.requestErrors.labels(ENDPOINTS[ex.endpoint].name, code).inc();
    if (!ex.aborted) sendError(ex.res, code, message, ex.retryAfter > 0 ? ex.retryAfter : this.d.config.retryAfterSeconds, close);
  }

  /** Label children bound once per (endpoint, status): no label lookup or string per request. */
  private readonly requestCounters = new Map<number, { inc(): void }>();
  private readonly ackLatency: Record<Endpoint, AckLatencyByClass>;
  private readonly receivedBytes: Record<Endpoint, { inc(bytes: number): void }>;

  private count(ex: Exchange, status: number): void {
    const key = ex.endpoint * 1000 + status;
    let counter = this.requestCounters.get(key);
    if (counter === undefined) {
      counter = this.d.metrics.requests.labels(ENDPOINTS[ex.endpoint].name, String(status));
      this.requestCounters.set(key, counter);
    }
    counter.inc();
    const latency = this.ackLatency[ex.endpoint];
    (status >= 500 ? latency.serverError : status >= 400 ? latency.clientError : latency.success).observe((performance.now() - ex.startedAt) / 1000);
    this.receivedBytes[ex.endpoint].inc(ex.received);
  }
}

/** An ingest answer is 2xx, 4xx or 5xx: one latency child each, bound at start so no request looks a label up. */
interface AckLatencyByClass {
  success: { observe(seconds: number): void };
  clientError: { observe(seconds: number): void };
  serverError: { observe(seconds: number): void };
}

function ackLatencyByClass(metrics: Metrics, endpoint: Endpoint): AckLatencyByClass {
  const name = ENDPOINTS[endpoint].name;
  return { success: metrics.ackLatency.labels(name, '2xx'), clientError: metrics.ackLatency.labels(name, '4xx'), serverError: metrics.ackLatency.labels(name, '5xx') };
}

/**
 * Half the ring for requests not yet authenticated, the other half staying for requests
 * already authenticated. By default each address may hold 1/32 of the ring (at least one
 * largest request) and borrow beyond that from a shared half of the budget: a single busy
 * producer can use half of it, slow clients from a few addresses leave most of it free.
 */
function unauthenticatedBudget(ringCapacity: number, maxBodyBytes: number, perAddress: number): AdmissionBudget {
  // Plus one request's overhead, so that the largest body the ring takes is never refused for ever.
  const total = Math.floor(ringCapacity / 2) + REQUEST_OVERHEAD_BYTES;
  const cap = Math.min(total, Math.max(perAddress > 0 ? perAddress : Math.floor(ringCapacity / 32), AdmissionBudget.cost(maxBodyBytes)));
  return new AdmissionBudget(total, cap, Math.floor(total / 2));
}
