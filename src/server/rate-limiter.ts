/**
 * Token buckets by identity (agent id or API key id): `ratePerSecond` tokens refill
 * continuously up to `burst`; a request takes one. Idle buckets are forgotten, and the map
 * is bounded so that a flood of new identities cannot grow memory.
 */
export class RateLimiter {
  private readonly tokens = new Map<string, number>();
  private readonly stamps = new Map<string, number>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxIdentities = 200_000,
  ) {}

  /** Takes a token for `id`; false when its bucket is empty. */
  take(id: string, nowMs: number): boolean {
    if (this.ratePerSecond <= 0) return true;
    const last = this.stamps.get(id);
    let tokens: number;
    if (last === undefined) {
      if (this.tokens.size >= this.maxIdentities) this.forgetFull(nowMs);
      tokens = this.burst;
    } else {
      tokens = Math.min(this.burst, (this.tokens.get(id) as number) + ((nowMs - last) * this.ratePerSecond) / 1000);
    }
    this.stamps.set(id, nowMs);
    if (tokens < 1) {
      this.tokens.set(id, tokens);
      return false;
    }
    this.tokens.set(id, tokens - 1);
    return true;
  }

  /** Seconds until `id` has a token again (for Retry-After), at least 1. */
  retryAfterSeconds(id: string): number {
    const tokens = this.tokens.get(id) ?? this.burst;
    return Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond));
  }

  /** Drops buckets that have refilled completely: forgetting them changes nothing. */
  private forgetFull(nowMs: number): void {
    for (const [id, last] of this.stamps) {
      if ((this.tokens.get(id) as number) + ((nowMs - last) * this.ratePerSecond) / 1000 >= this.burst) {
        this.stamps.delete(id);
        this.tokens.delete(id);
      }
    }
    // Every identity is busy: start over rather than grow (fails open, never closed).
    if (this.tokens.size >= this.maxIdentities) {
      this.stamps.clear();
      this.tokens.clear();
    }
  }
}
