/** How long to wait before the next attempt of a failed operation. */
export interface BackoffPolicy {
  /** The delay ceiling of the first retry. */
  readonly initialDelayMs: number;
  /** The ceiling never grows past this. */
  readonly maxDelayMs: number;
}

/**
 * Exponential backoff with equal jitter: a uniform delay in [d/2, d], rounded to the
 * millisecond, where d = min(max, initial · 2^attempt) and `attempt` counts retries from 0.
 *
 * Equal jitter rather than full jitter (a uniform delay in [0, d]): a write to a server that
 * refuses connections fails in microseconds, and full jitter's near-zero draws would turn
 * into a burst of attempts; the fixed half keeps every retry a real wait. The random half
 * still spreads out the clients (or batches) that failed together.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
