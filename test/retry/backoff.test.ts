import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../src/retry/index.js';

describe('backoff', () => {
  const policy = { initialDelayMs: 100, maxDelayMs: 1000 };
  it('doubles per attempt within [d/2, d] and stops at the cap', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const d = Math.min(1000, 100 * 2 ** attempt);
      expect(backoffDelayMs(attempt, policy, () => 0)).toBe(d / 2);
      expect(backoffDelayMs(attempt, policy, () => 0.999999)).toBe(d);
    }
  });
  it('waits at least half the first ceiling, even for a negative attempt', () => {
    expect(backoffDelayMs(-3, policy, () => 0)).toBe(50);
  });
});
