import { describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_DISPATCHER_CONFIG } from '../../src/webhooks/index.js';
import type { AttemptResult } from '../../src/webhooks/http-sender.js';
import { decideAttempt } from '../../src/webhooks/retry-policy.js';

/** The defaults: 15 s per attempt, retries for about a day (docs/read-api.md §6). */
const policy = DEFAULT_WEBHOOK_DISPATCHER_CONFIG;
const status = (s: number): AttemptResult => ({ kind: 'response', status: s });

describe('decideAttempt', () => {
  it('delivers on any 2xx and on nothing else', () => {
    for (const s of [200, 201, 202, 204, 299]) expect(decideAttempt(status(s), 1, 0, policy)).toEqual({ status: 'delivered', retryInMs: null, error: null });
    for (const s of [100, 199, 300, 301, 302, 400, 401, 404, 429, 500, 503]) {
      expect(decideAttempt(status(s), 1, 0, policy)).toMatchObject({ status: 'retrying', error: 'http_status' });
    }
  });

  it('disables on 410 only', () => {
    expect(decideAttempt(status(410), 3, 0, policy)).toEqual({ status: 'disabled', retryInMs: null, error: 'http_status' });
  });

  it('retries timeouts, refused connections and refused addresses, naming each', () => {
    expect(decideAttempt({ kind: 'timeout' }, 1, 0, policy).error).toBe('timeout');
    expect(decideAttempt({ kind: 'connection_failed', message: 'ECONNREFUSED' }, 1, 0, policy).error).toBe('connection_failed');
    expect(decideAttempt({ kind: 'refused_address', message: 'x' }, 1, 0, policy).error).toBe('refused_address');
    expect(decideAttempt({ kind: 'aborted' }, 1, 0, policy)).toEqual({ status: 'retrying', retryInMs: 0, error: 'receiver_stopping' });
  });

  it('backs off exponentially with equal jitter, up to the cap', () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const ceiling = Math.min(policy.retryCapMs, policy.retryBaseMs * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const { retryInMs } = decideAttempt(status(500), attempt, 0, policy);
        expect(retryInMs).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(retryInMs).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('places the last attempt at the end of the retry window, then gives up', () => {
    const nearEnd = policy.retryWindowMs - 1_000;
    expect(decideAttempt(status(500), 12, nearEnd, policy)).toEqual({ status: 'retrying', retryInMs: 1_000, error: 'http_status' });
    expect(decideAttempt(status(500), 13, policy.retryWindowMs, policy)).toEqual({ status: 'failed', retryInMs: null, error: 'http_status' });
    expect(decideAttempt({ kind: 'timeout' }, 13, policy.retryWindowMs + 1, policy).status).toBe('failed');
  });

  it('spreads the default schedule over about a day', () => {
    expect(policy.retryWindowMs).toBe(86_400_000);
    expect(policy.timeoutMs).toBe(15_000);
    // Mean delays (three quarters of each ceiling) until the window closes.
    let elapsed = 0;
    let attempt = 0;
    for (;;) {
      attempt++;
      const ceiling = Math.min(policy.retryCapMs, policy.retryBaseMs * 2 ** (attempt - 1));
      if (elapsed + 0.75 * ceiling >= policy.retryWindowMs) break;
      elapsed += 0.75 * ceiling;
    }
    expect(attempt).toBeGreaterThan(20);
    expect(attempt).toBeLessThan(50);
  });
});
