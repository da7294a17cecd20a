import { backoffDelayMs } from '../retry/index.js';
import type { AttemptResult } from './http-sender.js';

/** What an attempt leaves the delivery as (also the attempt log's `status`). */
export type AttemptStatus = 'delivered' | 'retrying' | 'failed' | 'disabled';

export interface AttemptDecision {
  readonly status: AttemptStatus;
  /** For `retrying`: how long until the next attempt. */
  readonly retryInMs: number | null;
  /** Why there was no 2xx: the attempt log's `error`. */
  readonly error: string | null;
}

export interface RetryPolicy {
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  readonly retryWindowMs: number;
}

/**
 * The one place that decides what an attempt's result means: any 2xx delivers, 410 Gone
 * disables the endpoint, everything else (other statuses, timeouts, refused connections and
 * addresses) is retried with jittered exponential backoff until the delivery is
 * `retryWindowMs` old; the last attempt is placed at that deadline rather than skipped.
 *
 * `attempt` is the number of the attempt just made (1 for the first); `ageMs` the delivery's
 * age when it ended.
 */
export function decideAttempt(result: AttemptResult, attempt: number, ageMs: number, policy: RetryPolicy): AttemptDecision {
  if (result.kind === 'response' && result.status >= 200 && result.status <= 299) return { status: 'delivered', retryInMs: null, error: null };
  if (result.kind === 'response' && result.status === 410) return { status: 'disabled', retryInMs: null, error: 'http_status' };
  const error = result.kind === 'response' ? 'http_status' : result.kind === 'aborted' ? 'receiver_stopping' : result.kind;
  // A stopping receiver hands the delivery back at once, for a running one to take.
  if (result.kind === 'aborted') return { status: 'retrying', retryInMs: 0, error };
  const left = policy.retryWindowMs - ageMs;
  if (left <= 0) return { status: 'failed', retryInMs: null, error };
  const delay = Math.min(backoffDelayMs(attempt - 1, { initialDelayMs: policy.retryBaseMs, maxDelayMs: policy.retryCapMs }), left);
  return { status: 'retrying', retryInMs: Math.round(delay), error };
}
