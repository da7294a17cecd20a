/** Milliseconds from a clock that never steps back (not the wall clock). */
export type MonotonicClock = () => number;

const monotonicNow: MonotonicClock = () => performance.now();

/**
 * Token buckets by identity (agent id, API key id, client address): `ratePerSecond` tokens
 * refill continuously up to `burst`; a request takes one. Idle buckets are forgotten, and the
 * map is bounded so that a flood of new identities cannot grow memory.
 *
 * Time comes from a monotonic clock: with the wall clock, a backward step would make the
 * elapsed time negative and drain every active bucket by rate × step. Elapsed time below zero
 * (a caller passing wall-clock times) counts as none, so even then nobody is locked out.
 *
 * `allows` and `charge` split `take` in two, for limits charged only once a request has
 * proved who it is (docs/protocol.md §6): the bucket is checked at admission and charged on
 * the outcome. Requests admitted together may then overdraw a bucket; the debt is kept (down
 * to one burst) so that the identity waits it out afterwards.
 */
export class RateLimiter {
  private readonly tokens = new Map<string, number>();
  private readonly stamps = new Map<string, number>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxIdentities = 200_000,
    private readonly clock: MonotonicClock = monotonicNow,
  ) {}

  /** Takes a token for `id`; false when its bucket is empty. */
  take(id: string, nowMs: number = this.clock()): boolean {
    if (this.ratePerSecond <= 0) return true;
    const tokens = this.refill(id, nowMs);
    if (tokens < 1) return false;
    this.tokens.set(id, tokens - 1);
    return true;
  }

  /** Whether `id` has a token now, without taking it. */
  allows(id: string, nowMs: number = this.clock()): boolean {
    if (this.ratePerSecond <= 0) return true;
    return this.refill(id, nowMs) >= 1;
  }

  /** Takes a token for `id` whether or not one is left (see the class comment). */
  charge(id: string, nowMs: number = this.clock()): void {
    if (this.ratePerSecond <= 0) return;
    this.tokens.set(id, Math.max(-this.burst, this.refill(id, nowMs) - 1));
  }

  /** Seconds until `id` has a token again (for Retry-After), at least 1. */
  retryAfterSeconds(id: string): number {
    const tokens = this.tokens.get(id) ?? this.burst;
    return Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond));
  }

  /** Brings `id`'s bucket up to `nowMs` and returns its tokens. */
  private refill(id: string, nowMs: number): number {
    const last = this.stamps.get(id);
    let tokens: number;
    if (last === undefined) {
      if (this.tokens.size >= this.maxIdentities) this.forgetFull(nowMs);
      tokens = this.burst;
    } else {
      tokens = Math.min(this.burst, (this.tokens.get(id) as number) + (Math.max(0, nowMs - last) * this.ratePerSecond) / 1000);
    }
    // After a step back, refilling resumes from the new reading: the step costs nothing.
    this.stamps.set(id, nowMs);
    this.tokens.set(id, tokens);
    return tokens;
  }

  /** Drops buckets that have refilled completely: forgetting them changes nothing. */
  private forgetFull(nowMs: number): void {
    for (const [id, last] of this.stamps) {
      if ((this.tokens.get(id) as number) + (Math.max(0, nowMs - last) * this.ratePerSecond) / 1000 >= this.burst) {
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
