import type { BodyEncoding } from './batch-encoding.js';
import { MachPayConfigError, type DeliveryFailure } from './errors.js';

/** Options shared by {@link TelemetryEmitter} and {@link GatewayEmitter}: how events are batched and delivered. */
export interface DeliveryOptions {
  /** Base URL of the receiver, e.g. `https://telemetry.example.com`. The emitter appends `/v1/agent` or `/v1/ingest`. */
  receiverUrl: string;
  /** Body encoding. `json` (default) is readable; `msgpack` is smaller and carries int64 natively. */
  encoding?: BodyEncoding | undefined;
  /** Gzip bodies of at least `gzipMinBytes` (`Content-Encoding: gzip`). Default true: it also shrinks what the agent signs. */
  gzip?: boolean | undefined;
  /** Smallest body worth compressing, in bytes. Default 1024. */
  gzipMinBytes?: number | undefined;
  /** Send as soon as this many events are queued. Default 100, at most 1000 (the receiver's per-request limit). */
  maxBatchEvents?: number | undefined;
  /** Send queued events at most this long after the first of them was recorded, in ms. Default 1000. */
  flushIntervalMs?: number | undefined;
  /** Events held while waiting to be sent; when full the oldest is dropped and counted. Default 10000. */
  maxQueueEvents?: number | undefined;
  /** Largest body to transmit, in bytes; larger batches are split before sending. Default 1 MiB, the receiver's default limit. */
  maxBodyBytes?: number | undefined;
  /** Largest body before compression, in bytes. Default 8 MiB, the receiver's default limit. */
  maxDecodedBodyBytes?: number | undefined;
  /** Batches in flight at once. Default 1, which also keeps events in order. At most 16. */
  maxConcurrentBatches?: number | undefined;
  /** Time allowed for one HTTP attempt, in ms. Default 10000. */
  requestTimeoutMs?: number | undefined;
  /** Time allowed for a batch across all its retries, in ms; then it is counted as failed. Default 30000. */
  batchDeadlineMs?: number | undefined;
  /** First retry delay, in ms (jittered, doubling per attempt). Default 200. */
  retryInitialDelayMs?: number | undefined;
  /** Cap on one retry delay, in ms. Default 10000. */
  retryMaxDelayMs?: number | undefined;
  /** The fetch to use. Default: the global fetch (Node ≥ 18, browsers, edge runtimes). */
  fetch?: typeof fetch | undefined;
  /**
   * Called for each delivery problem: a batch that failed for good, or an event the
   * receiver rejected. Must not throw (a throw is swallowed). Counted in stats either way.
   */
  onError?: ((failure: DeliveryFailure) => void) | undefined;
}

export interface DeliveryConfig {
  readonly receiverUrl: string;
  readonly encoding: BodyEncoding;
  readonly gzip: boolean;
  readonly gzipMinBytes: number;
  readonly maxBatchEvents: number;
  readonly flushIntervalMs: number;
  readonly maxQueueEvents: number;
  readonly maxBodyBytes: number;
  readonly maxDecodedBodyBytes: number;
  readonly maxConcurrentBatches: number;
  readonly requestTimeoutMs: number;
  readonly batchDeadlineMs: number;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly fetch: typeof fetch;
  readonly onError: ((failure: DeliveryFailure) => void) | null;
}

const MiB = 1024 * 1024;

/** Applies defaults and validates every key; the result is frozen. Throws {@link MachPayConfigError} naming the key. */
export function resolveDeliveryOptions(options: DeliveryOptions): DeliveryConfig {
  if (typeof options !== 'object' || options === null) throw new MachPayConfigError('options', 'must be an object');
  const receiverUrl = options.receiverUrl;
  if (typeof receiverUrl !== 'string' || !/^https?:\/\//i.test(receiverUrl)) {
    throw new MachPayConfigError('receiverUrl', 'must be an http(s) URL');
  }
  try {
    new URL(receiverUrl);
  } catch {
    throw new MachPayConfigError('receiverUrl', 'is not a valid URL');
  }
  const encoding = options.encoding ?? 'json';
  if (encoding !== 'json' && encoding !== 'msgpack') throw new MachPayConfigError('encoding', "must be 'json' or 'msgpack'");
  const gzip = options.gzip ?? true;
  if (typeof gzip !== 'boolean') throw new MachPayConfigError('gzip', 'must be a boolean');

  const maxBatchEvents = int(options.maxBatchEvents, 'maxBatchEvents', 100, 1, 1000);
  const maxQueueEvents = int(options.maxQueueEvents, 'maxQueueEvents', 10_000, 1, 2 ** 24);
  if (maxQueueEvents < maxBatchEvents) throw new MachPayConfigError('maxQueueEvents', 'must be at least maxBatchEvents');
  const retryInitialDelayMs = int(options.retryInitialDelayMs, 'retryInitialDelayMs', 200, 1, 3_600_000);
  const retryMaxDelayMs = int(options.retryMaxDelayMs, 'retryMaxDelayMs', 10_000, 1, 3_600_000);
  if (retryMaxDelayMs < retryInitialDelayMs) throw new MachPayConfigError('retryMaxDelayMs', 'must be at least retryInitialDelayMs');

  const fetchImpl = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
  if (typeof fetchImpl !== 'function') throw new MachPayConfigError('fetch', 'no global fetch in this runtime; pass one');
  const onError = options.onError ?? null;
  if (onError !== null && typeof onError !== 'function') throw new MachPayConfigError('onError', 'must be a function');

  return Object.freeze({
    receiverUrl: receiverUrl.replace(/\/+$/, ''),
    encoding,
    gzip,
    gzipMinBytes: int(options.gzipMinBytes, 'gzipMinBytes', 1024, 0, 2 ** 30),
    maxBatchEvents,
    flushIntervalMs: int(options.flushIntervalMs, 'flushIntervalMs', 1000, 1, 3_600_000),
    maxQueueEvents,
    maxBodyBytes: int(options.maxBodyBytes, 'maxBodyBytes', MiB, 1024, 2 ** 30),
    maxDecodedBodyBytes: int(options.maxDecodedBodyBytes, 'maxDecodedBodyBytes', 8 * MiB, 1024, 2 ** 30),
    maxConcurrentBatches: int(options.maxConcurrentBatches, 'maxConcurrentBatches', 1, 1, 16),
    requestTimeoutMs: int(options.requestTimeoutMs, 'requestTimeoutMs', 10_000, 1, 3_600_000),
    batchDeadlineMs: int(options.batchDeadlineMs, 'batchDeadlineMs', 30_000, 1, 24 * 3_600_000),
    retryInitialDelayMs,
    retryMaxDelayMs,
    // Called as a plain function: browsers and Workers throw "Illegal invocation" when
    // fetch runs as a method of another object (this frozen config).
    fetch: ((input, init) => fetchImpl(input, init)) as typeof fetch,
    onError,
  });
}

/** An optional integer option with its default and bounds. */
export function int(value: number | undefined, key: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MachPayConfigError(key, `must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}
