import pg from 'pg';
import { connectionConfig, DEFAULT_PG_SESSION_SETTINGS } from '../database/index.js';
import type { Logger } from '../logger.js';
import { API_KEY_CHANNEL, findApiKeyByHash, hashApiKey, KEY_PATTERN, touchApiKeys, type KeyLookup } from './api-key-store.js';
import { LookupGate } from './lookup-gate.js';
import { UnknownKeys } from './unknown-keys.js';

interface Entry {
  key: KeyLookup;
  expires: number;
}

export interface ApiKeyCacheLimits {
  /** Known keys cached (a tenant has few; past this the cache starts over). Default 10 000. */
  maxKnown?: number;
  /** Unknown key hashes remembered (oldest forgotten first). Default 100 000. */
  maxUnknown?: number;
  /** Lookups running at once; size the lookup pool to match. Default 2. */
  concurrentLookups?: number;
  /** Lookups waiting for a turn; past this a lookup fails with KeyLookupBusyError. Default 1000. */
  maxWaitingLookups?: number;
}

/**
 * Resolves `Authorization: Bearer mpk_…` keys to their tenant. Keys are looked up by their
 * SHA-256, so nothing compares secret bytes directly; results are cached for `ttlMs`, and a
 * revocation (announced with NOTIFY by `keys revoke`) drops the cached entry at once.
 *
 * A flood of random well-formed keys is bounded three ways: requests that present the same
 * unknown key share one query (single flight) and later ones hit the negative cache;
 * lookups run through a gate of a few at a time with a bounded queue; and `pool` is the
 * cache's own small pool, so lookups never take a connection the COPYs need. (The ingest
 * route also limits 401s per client address.)
 */
export class ApiKeyCache {
  private known = new Map<string, Entry>();
  private readonly unknown: UnknownKeys;
  private readonly pending = new Map<string, Promise<KeyLookup | null>>();
  private readonly gate: LookupGate;
  private readonly maxKnown: number;
  private used = new Set<string>();
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Queries sent to look keys up (for tests and the curious). */
  lookups = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
    limits: ApiKeyCacheLimits = {},
  ) {
    this.maxKnown = limits.maxKnown ?? 10_000;
    this.unknown = new UnknownKeys(ttlMs, limits.maxUnknown ?? 100_000);
    this.gate = new LookupGate(limits.concurrentLookups ?? 2, limits.maxWaitingLookups ?? 1000);
  }

  /** Parses the header; returns the key's record (sync when cached), or null when invalid. */
  resolve(authorization: string): KeyLookup | null | Promise<KeyLookup | null> {
    if (!authorization.startsWith('Bearer ') && !authorization.startsWith('bearer ')) return null;
    const token = authorization.slice(7).trim();
    if (!KEY_PATTERN.test(token)) return null;
    const hash = hashApiKey(token);
    const id = hash.toString('hex');
    const now = Date.now();
    const hit = this.known.get(id);
    if (hit !== undefined && hit.expires > now) return this.use(hit.key);
    if (this.unknown.has(id, now)) return null;
    let lookup = this.pending.get(id);
    if (lookup === undefined) {
      lookup = this.lookUp(id, hash);
      this.pending.set(id, lookup);
      // Removed whatever the outcome; a failure is not cached (the next request asks again).
      const done = (): void => void this.pending.delete(id);
      lookup.then(done, done);
    }
    return lookup.then((key) => this.use(key));
  }

  private async lookUp(id: string, hash: Buffer): Promise<KeyLookup | null> {
    const key = await this.gate.run(() => {
      this.lookups++;
      return findApiKeyByHash(this.pool, hash);
    });
    if (key === null) {
      this.unknown.add(id);
    } else {
      if (this.known.size >= this.maxKnown) this.known = new Map();
      this.known.set(id, { key, expires: Date.now() + this.ttlMs });
    }
    return key;
  }

  /** Unknown key hashes remembered now (bounded by maxUnknown). */
  get unknownCached(): number {
    return this.unknown.size;
  }

  private use(key: KeyLookup | null): KeyLookup | null {
    if (key === null || key.revoked) return null;
    this.used.add(key.id);
    return key;
  }

  async start(touchIntervalMs = 5000): Promise<void> {
    this.timer = setInterval(() => void this.flushUsage(), touchIntervalMs);
    this.timer.unref();
    await this.listen();
  }

  private async listen(): Promise<void> {
    // The session limits of every receiver connection (keepalive, connect timeout), without
    // statement or query timeouts: LISTEN sits idle for hours by design.
    const client = new pg.Client(connectionConfig(this.url, DEFAULT_PG_SESSION_SETTINGS, false));
    client.on('notification', (msg) => {
      if (msg.payload !== undefined) {
        this.known.delete(msg.payload);
        this.unknown.delete(msg.payload);
      }
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'API key listener lost its connection; keys are re-checked after their TTL');
      this.listener = null;
      this.known.clear();
      this.unknown.clear();
      if (!this.stopped) setTimeout(() => void this.listen().catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${API_KEY_CHANNEL}`);
    this.listener = client;
  }

  private async flushUsage(): Promise<void> {
    if (this.used.size === 0) return;
    const ids = [...this.used];
    this.used = new Set();
    await touchApiKeys(this.pool, ids).catch((err: Error) => this.log.warn({ err: err.message }, 'could not update api_keys.last_used_at'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.flushUsage();
    await this.listener?.end().catch(() => undefined);
  }
}
