import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The webhook metrics, with stable names; every label is a small fixed set (never a URL, a
 * tenant or a webhook id). Registered on the registry the receiver serves on /metrics.
 */
export function registerWebhookMetrics(registry: Registry) {
  const registers = [registry];
  return {
    deliveries: new Counter({
      name: 'machpay_webhook_deliveries_total',
      help: 'Webhook deliveries that ended, by outcome (delivered, failed after the retry window, disabled by a 410 or a deleted endpoint).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    attempts: new Counter({
      name: 'machpay_webhook_attempts_total',
      help: 'Webhook delivery attempts, by result (success, http_status, timeout, connection_failed, refused_address, receiver_stopping).',
      labelNames: ['result'] as const,
      registers,
    }),
    pending: new Gauge({
      name: 'machpay_webhook_queue_pending',
      help: 'Webhook deliveries waiting to be sent or retried, across every receiver of the database (sampled by the dispatcher).',
      registers,
    }),
    attemptDuration: new Histogram({
      name: 'machpay_webhook_attempt_duration_seconds',
      help: 'Time from the start of a delivery attempt to the endpoint response status (or the timeout).',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    }),
    deliveryLatency: new Histogram({
      name: 'machpay_webhook_delivery_latency_seconds',
      help: 'Time from an event being queued to its successful delivery, retries included.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800, 3600, 21600, 86400],
      registers,
    }),
  };
}

export type WebhookMetrics = ReturnType<typeof registerWebhookMetrics>;
