import pg from 'pg';
import { connectionConfig, DEFAULT_PG_SESSION_SETTINGS } from '../database/index.js';
import type { Logger } from '../logger.js';
import { API_KEY_CHANNEL, findApiKeyByHash, hashApiKey, KEY_PATTERN, touchApiKeys, type KeyLookup } from './api-key-store.js';

interface Entry {
  key: KeyLookup | null;
  expires: number;
}

/** Bound on cached entries (unknown keys included, so guessing cannot grow memory). */
const MAX_ENTRIES = 100_000;

/**
 * Resolves `Authorization: Bearer mpk_…` keys to their tenant. Keys are looked up by their
 * SHA-256, so nothing compares secret bytes directly; results are cached for `ttlMs`, and a
 * revocation (announced with NOTIFY by `keys revoke`) drops the cached entry at once.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  private used = new Set<string>();
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  /** Parses the header; returns the key's record (sync when cached), or null when invalid. */
  resolve(authorization: string): KeyLookup | null | Promise<KeyLookup | null> {
    if (!authorization.startsWith('Bearer ') && !authorization.startsWith('bearer ')) return null;
    const token = authorization.slice(7).trim();
    if (!KEY_PATTERN.test(token)) return null;
    const hash = hashApiKey(token);
    const id = hash.toString('hex');
    const hit = this.entries.get(id);
    if (hit !== undefined && hit.expires > Date.now()) return this.use(hit.key);
    return findApiKeyByHash(this.pool, hash).then((key) => {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(id, { key, expires: Date.now() + this.ttlMs });
      return this.use(key);
    });
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
      if (msg.payload !== undefined) this.entries.delete(msg.payload);
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'API key listener lost its connection; keys are re-checked after their TTL');
      this.listener = null;
      this.entries.clear();
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
