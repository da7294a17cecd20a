import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/server/index.js';

/** A clock the test moves by hand, standing in for the limiter's time source. */
function manualClock(start = 1_000_000): { now: () => number; advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (ms) => (t = ms) };
}

describe('RateLimiter', () => {
  it('refills at its rate up to its burst', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(10, 5, 1000, clock.now);
    for (let i = 0; i < 5; i++) expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    clock.advance(100);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
    expect(limiter.take('b'), 'buckets are per identity').toBe(true);
  });

  it('reads a monotonic clock by default, not the wall clock', () => {
    const limiter = new RateLimiter(1, 2);
    expect(limiter.take('a')).toBe(true);
    const realNow = Date.now;
    // The wall clock jumps an hour back: the default clock does not follow it.
    Date.now = () => realNow() - 3_600_000;
    try {
      expect(limiter.take('a')).toBe(true);
    } finally {
      Date.now = realNow;
    }
  });

  it('a clock that steps back locks nobody out: the step counts as no time, refilling resumes from the new reading', () => {
    const clock = manualClock(10_000_000);
    const limiter = new RateLimiter(5, 10, 1000, clock.now);
    for (let i = 0; i < 8; i++) expect(limiter.take('agent')).toBe(true);
    clock.set(10_000_000 - 3_600_000);
    expect(limiter.take('agent'), 'two tokens left, whatever the clock did').toBe(true);
    expect(limiter.take('agent')).toBe(true);
    expect(limiter.take('agent')).toBe(false);
    clock.advance(200);
    expect(limiter.take('agent'), 'one token refilled 200 ms after the step').toBe(true);
  });

  it('allows() checks without charging; charge() takes a token even from an empty bucket, down to one burst of debt', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(10, 2, 1000, clock.now);
    for (let i = 0; i < 10; i++) expect(limiter.allows('a')).toBe(true);
    limiter.charge('a');
    limiter.charge('a');
    expect(limiter.allows('a')).toBe(false);
    for (let i = 0; i < 10; i++) limiter.charge('a');
    // Debt is capped at -burst (-2): three tokens (300 ms) bring it back to one.
    clock.advance(200);
    expect(limiter.allows('a')).toBe(false);
    clock.advance(100);
    expect(limiter.allows('a')).toBe(true);
    expect(limiter.retryAfterSeconds('b')).toBe(1);
  });

  it('a rate of 0 is no limit', () => {
    const limiter = new RateLimiter(0, 1);
    for (let i = 0; i < 100; i++) expect(limiter.take('a') && limiter.allows('a')).toBe(true);
  });
});
