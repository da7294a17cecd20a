import { describe, expect, it } from 'vitest';
import { classifyResponse, parseRetryAfter, retryAfterDelayMs } from '../../src/sdk/retry-policy.js';

const err = (code: string): string => JSON.stringify({ error: { code, message: `m-${code}` } });

describe('classifyResponse (docs/protocol.md §6)', () => {
  it.each([
    [202, 'delivered'],
    [200, 'delivered'],
    [413, 'split'],
    [429, 'retry'],
    [503, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [400, 'permanent'],
    [401, 'permanent'],
    [403, 'permanent'],
    [404, 'permanent'],
    [408, 'permanent'],
    [415, 'permanent'],
    [307, 'permanent'],
  ])('%i → %s', (status, kind) => {
    expect(classifyResponse(status, '', null, 0).kind).toBe(kind);
  });

  it('keeps the receiver code and message, and per-event rejections', () => {
    const r = classifyResponse(401, err('bad_signature'), null, 0);
    expect(r).toMatchObject({ kind: 'permanent', code: 'bad_signature', message: 'm-bad_signature', status: 401 });
    const ok = classifyResponse(202, JSON.stringify({ accepted: 1, rejected: [{ index: 1, id: 'x', code: 'invalid_event', message: 'nonce' }] }), null, 0);
    expect(ok).toEqual({ kind: 'delivered', status: 202, rejected: [{ index: 1, id: 'x', code: 'invalid_event', message: 'nonce' }] });
    expect(classifyResponse(404, '<html>', null, 0)).toMatchObject({ code: 'unexpected_status' });
  });

  it('reads Retry-After on 429 and 503', () => {
    expect(classifyResponse(429, err('rate_limited'), '2', 0)).toMatchObject({ kind: 'retry', code: 'rate_limited', retryAfterMs: 2000 });
    expect(classifyResponse(503, err('not_ready'), null, 0)).toMatchObject({ kind: 'retry', retryAfterMs: null });
  });
});

describe('parseRetryAfter', () => {
  it('takes seconds (fractions too) or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(' 0.25 ', 0)).toBe(250);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 01 Jan 2024 00:00:05 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', 0)).toBeNull();
    expect(parseRetryAfter('-1', 0)).toBeNull();
    expect(parseRetryAfter(null, 0)).toBeNull();
  });
});

describe('Retry-After', () => {
  it('never shortens Retry-After and adds at most 10 % (≤ 1 s)', () => {
    expect(retryAfterDelayMs(2000, () => 0)).toBe(2000);
    expect(retryAfterDelayMs(2000, () => 1)).toBe(2200);
    expect(retryAfterDelayMs(60_000, () => 1)).toBe(61_000);
  });
});
