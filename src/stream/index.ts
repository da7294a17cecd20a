/**
 * The live event stream (docs/read-api.md §4): Server-Sent Events of newly committed rows,
 * read from the rows themselves in transaction order, so that every receiver of a database
 * streams the same events with the same ids and a client resumes on any of them.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import { EventIdCodec } from './event-ids.js';
import { attachEventsRoute, EVENTS_PATH } from './events-route.js';
import { ScopedKeyCache } from './read-side.js';
import { StreamPresence } from './presence.js';
import { RowCapture } from './row-capture.js';
import type { StreamStats } from './metrics.js';
import { StreamHub } from './stream-hub.js';
import { RAW_SOURCES, type StreamSource } from './stream-sources.js';
import { StreamTokens } from './stream-tokens.js';
import { attachTokensRoute, TOKENS_PATH } from './tokens-route.js';
import { CommitNotifier } from './wake-ups.js';

export interface StreamDeps {
  /** Reads (the log, catch-ups, key lookups) run on it: the read pool, not the COPY connections. */
  pool: pg.Pool;
  log: Logger;
  /** The deployment's secret (≥ 32 bytes), the same on every receiver: signs stream tokens and event ids. */
  secret: Buffer;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** The agent signature's clock window; default 300 s. */
  timestampWindowMs?: number;
  /** How long an API key lookup is reused; default 5 s. */
  keyCacheTtlMs?: number;
  /** How old a Last-Event-ID may be and still resume; default 5 minutes. */
  resumeWindowMs?: number;
  /** Interval of `: ping` comments; default 10 s (the contract asks for at most 15). */
  heartbeatMs?: number;
  /** Read the log at least this often while anyone subscribes; default 100 ms. */
  pollIntervalMs?: number;
  /** Bytes held for one subscriber that does not read before it is reset; default 8 MiB (above one read's burst). */
  maxQueuedBytes?: number;
  /** LISTEN for other receivers' commits; default true. */
  listen?: boolean;
  /** How long the reader runs on after the last subscriber leaves; default 10 s. */
  lingerMs?: number;
  /** How often each receiver looks at the others' subscribers and the capture switch; default 1 s. */
  presenceIntervalMs?: number;
  /** More tables whose new rows are events: numbers 3 and up. */
  extraSources?: readonly StreamSource[];
}

export interface StreamRoutes {
  routes: readonly { method: 'get' | 'post'; pattern: string }[];
  hub: StreamHub;
  /** The stream's figures now, for /metrics. */
  stats(): StreamStats;
  /** Call `committed()` after every commit of rows that may be events. */
  notifier: CommitNotifier;
  /** Ends every open stream (clients reconnect elsewhere with their last id) and stops reading. */
  close(): Promise<void>;
}

export function registerStreamRoutes(app: TemplatedApp, deps: StreamDeps): StreamRoutes {
  if (deps.secret.length < 32) throw new Error('the stream secret must be at least 32 bytes');
  const sources = [...RAW_SOURCES, ...(deps.extraSources ?? [])];
  if (new Set(sources.map((s) => s.number)).size !== sources.length) throw new Error('stream sources need distinct numbers');
  sources.sort((a, b) => a.number - b.number);
  const clock = deps.clock ?? Date.now;
  const log = deps.log.child({ component: 'stream' });
  const ids = new EventIdCodec(deps.secret);
  const tokens = new StreamTokens(deps.secret);
  const keys = new ScopedKeyCache(deps.pool, deps.keyCacheTtlMs ?? 5000, 10_000, clock);
  const receiverId = randomBytes(8).toString('hex');
  const presenceIntervalMs = deps.presenceIntervalMs ?? 1000;
  const listenerTtlMs = presenceIntervalMs * 5;
  const resumeWindowMs = deps.resumeWindowMs ?? 300_000;
  const maxQueuedBytes = deps.maxQueuedBytes ?? 8 * 1024 * 1024;
  const capture = new RowCapture(deps.pool, { receiverId, listenerTtlMs });
  const hub = new StreamHub({
    pool: deps.pool,
    sources,
    ids,
    log,
    clock,
    pollIntervalMs: deps.pollIntervalMs ?? 100,
    heartbeatMs: deps.heartbeatMs ?? 10_000,
    maxXidsPerRead: 16,
    catchUpXids: 1024,
    listen: deps.listen ?? true,
    lingerMs: deps.lingerMs ?? 10_000,
    summarizeIntervalMs: 250,
    maxQueuedBytes,
    capture,
  });
  const presence = new StreamPresence(
    deps.pool,
    capture,
    {
      receiverId,
      intervalMs: presenceIntervalMs,
      listenerTtlMs,
      idleOffMs: resumeWindowMs,
      active: () => hub.runningSince() !== null,
      runningSince: () => hub.runningSince(),
      periodEnded: () => hub.endPeriod(),
    },
    log,
  );
  presence.start();
  const notifier = new CommitNotifier(deps.pool, () => hub.wake(), () => presence.othersListening, log);
  attachTokensRoute(app, { pool: deps.pool, tokens, keys, clock, log });
  attachEventsRoute(app, {
    pool: deps.pool,
    hub,
    ids,
    tokens,
    keys,
    clock,
    timestampWindowMs: deps.timestampWindowMs ?? 300_000,
    resumeWindowMs,
    limits: { maxQueuedBytes },
    log,
  });
  return {
    routes: [
      { method: 'post', pattern: TOKENS_PATH },
      { method: 'get', pattern: EVENTS_PATH },
    ],
    hub,
    notifier,
    stats: () => ({ ...hub.snapshot(), notifies: notifier.sent, capturing: presence.captureState === 'on' }),
    async close() {
      presence.stop();
      notifier.close();
      await hub.close();
    },
  };
}

export { StreamHub, type HubStats } from './stream-hub.js';
export { registerStreamMetrics, type StreamStats } from './metrics.js';
export { CommitNotifier, STREAM_CHANNEL } from './wake-ups.js';
export { ALERTS, INTERACTIONS, TELEMETRY, type StreamSource, type RowEventName } from './stream-sources.js';
export { StreamTokens, TOKEN_TTL_MS, type StreamGrant } from './stream-tokens.js';
export { EVENTS_PATH } from './events-route.js';
