/**
 * Default interaction nonces (docs/protocol.md §5: int64, unique per agent): microsecond-scaled
 * wall time, `Date.now() · 1000`, bumped by one whenever that would not exceed the last
 * nonce. Strictly increasing within a process even across clock steps backwards, and a
 * restarted process starts above the old one unless the old one issued more than a
 * thousand nonces per millisecond. Processes sharing one key must pass their own nonces.
 * Values stay below 2^53 until the year 2255, so JSON carries them as plain numbers.
 */
export class NonceClock {
  private last = 0n;

  next(nowMs: number = Date.now()): bigint {
    const candidate = BigInt(Math.floor(nowMs)) * 1000n;
    this.last = candidate > this.last ? candidate : this.last + 1n;
    return this.last;
  }
}
