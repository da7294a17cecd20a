/**
 * How the dispatcher delivers. The server builds this from the receiver's validated config;
 * the defaults are those of docs/read-api.md §6 (15 s per attempt, retries for about a day).
 */
export interface WebhookDispatcherConfig {
  /** Per attempt, from lookup to the response's status line. */
  readonly timeoutMs: number;
  /** Attempts in flight at once, across all endpoints. */
  readonly concurrency: number;
  /**
   * Attempts in flight at once to one endpoint: a slow or black-holed endpoint occupies this
   * many slots at most, never all of them.
   */
  readonly concurrencyPerWebhook: number;
  /** How often the queue is polled for due deliveries when nothing woke the dispatcher. */
  readonly pollIntervalMs: number;
  /** Backoff after the first failure; doubles per failure up to retryCapMs, equal-jittered. */
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  /** A delivery not delivered this long after it was queued is given up (`failed`). */
  readonly retryWindowMs: number;
  /**
   * How long a claim holds a delivery: another receiver takes it over after this, so it must
   * exceed timeoutMs (a crashed receiver's deliveries are retried after it).
   */
  readonly claimLeaseMs: number;
  /** Reaches private and loopback addresses (WEBHOOK_ALLOW_PRIVATE_URLS=true). */
  readonly allowPrivateUrls: boolean;
}

export const DEFAULT_WEBHOOK_DISPATCHER_CONFIG: WebhookDispatcherConfig = Object.freeze({
  timeoutMs: 15_000,
  concurrency: 16,
  concurrencyPerWebhook: 4,
  pollIntervalMs: 1_000,
  retryBaseMs: 5_000,
  retryCapMs: 60 * 60_000,
  retryWindowMs: 24 * 60 * 60_000,
  claimLeaseMs: 45_000,
  allowPrivateUrls: false,
});

/** Defaults filled in and checked; an invalid value throws naming its key. */
export function webhookDispatcherConfig(overrides: Partial<WebhookDispatcherConfig> = {}): WebhookDispatcherConfig {
  const c = { ...DEFAULT_WEBHOOK_DISPATCHER_CONFIG, ...overrides };
  const positive = ['timeoutMs', 'concurrency', 'concurrencyPerWebhook', 'pollIntervalMs', 'retryBaseMs', 'retryCapMs', 'retryWindowMs', 'claimLeaseMs'] as const;
  for (const key of positive) {
    if (!Number.isFinite(c[key]) || c[key] <= 0) throw new Error(`webhooks.${key}: must be a positive number`);
  }
  if (!Number.isInteger(c.concurrency)) throw new Error('webhooks.concurrency: must be an integer');
  if (!Number.isInteger(c.concurrencyPerWebhook)) throw new Error('webhooks.concurrencyPerWebhook: must be an integer');
  if (c.retryCapMs < c.retryBaseMs) throw new Error('webhooks.retryCapMs: must be at least retryBaseMs');
  if (c.claimLeaseMs <= c.timeoutMs) throw new Error('webhooks.claimLeaseMs: must exceed timeoutMs, or a slow attempt could be sent twice at once');
  return Object.freeze(c);
}
