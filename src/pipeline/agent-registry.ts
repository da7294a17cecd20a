import type pg from 'pg';
import type { Logger } from '../logger.js';
import { Endpoint } from '../protocol/index.js';

/**
 * Agents register themselves with their first accepted packet (inserted in the same
 * transaction as its rows); `last_seen_at` is then refreshed in the background every few
 * seconds, so hot agent rows are not locked by every COPY transaction.
 */
export class AgentRegistry {
  private readonly known = new Set<string>();
  private lastSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly maxTracked = 1_000_000,
  ) {}

  /** Distinct agents of these requests not known to be registered, sorted (stable lock order). */
  unregistered(tickets: readonly { endpoint: Endpoint; agentId: string }[]): string[] {
    let out: Set<string> | null = null;
    for (const t of tickets) {
      if (t.endpoint !== Endpoint.Agent || this.known.has(t.agentId)) continue;
      (out ??= new Set()).add(t.agentId);
    }
    return out === null ? [] : [...out].sort();
  }

  registered(agentIds: readonly string[]): void {
    // Forgetting is safe (the insert is ON CONFLICT DO NOTHING); growing without bound is not.
    if (this.known.size + agentIds.length > this.maxTracked) this.known.clear();
    for (const a of agentIds) this.known.add(a);
  }

  noteSeen(agentId: string): void {
    this.lastSeen.set(agentId, Date.now());
    if (this.lastSeen.size >= this.maxTracked) void this.flush();
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.lastSeen.size === 0) return;
    const seen = this.lastSeen;
    this.lastSeen = new Map();
    const ids = [...seen.keys()].sort();
    const times = ids.map((id) => new Date(seen.get(id) as number).toISOString());
    try {
      await this.pool.query(
        `UPDATE agents a SET last_seen_at = GREATEST(a.last_seen_at, v.t)
           FROM unnest($1::text[], $2::timestamptz[]) AS v(pubkey, t) WHERE a.pubkey = v.pubkey`,
        [ids, times],
      );
    } catch (err) {
      this.log.warn({ err: (err as Error).message, agents: ids.length }, 'could not refresh agents.last_seen_at');
    }
  }
}
