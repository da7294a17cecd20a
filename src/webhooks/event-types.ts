/** The events a webhook can subscribe to (docs/read-api.md §6): every change of an alert's state. */
export const WEBHOOK_EVENT_TYPES = ['alert.firing', 'alert.resolved'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}
