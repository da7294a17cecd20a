/**
 * Webhooks (docs/read-api.md §6): tenants register endpoints, alert changes are queued for
 * them in the same transaction that changes the alert, and a dispatcher on every receiver
 * delivers them, signed as Standard Webhooks, from a durable queue in PostgreSQL.
 */
export { enqueueWebhookEvent } from './enqueue.js';
export type { EnqueuedEvent } from './enqueue.js';
export { WEBHOOK_EVENT_TYPES, isWebhookEventType } from './event-types.js';
export type { WebhookEventType } from './event-types.js';
export { WebhookDispatcher } from './dispatcher.js';
export type { WebhookDispatcherDeps } from './dispatcher.js';
export { DEFAULT_WEBHOOK_DISPATCHER_CONFIG, webhookDispatcherConfig } from './dispatcher-config.js';
export type { WebhookDispatcherConfig } from './dispatcher-config.js';
export { registerWebhookRoutes, WEBHOOK_ROUTES } from './routes.js';
export type { AuthRefusal, WebhookAuthenticator, WebhookPrincipal, WebhookRouteDeps, WebhookRoutes } from './routes.js';
export { registerWebhookMetrics } from './metrics.js';
export type { WebhookMetrics } from './metrics.js';
export { generateWebhookSecret, signWebhook, secretKey } from './signing.js';
export { refusedAddressReason } from './address-policy.js';
export { checkWebhookUrl } from './url-guard.js';
export { pruneWebhookHistory } from './history-pruning.js';
export type { PrunedHistory } from './history-pruning.js';
