/**
 * Alerts (docs/read-api.md §5): the five rules, an evaluator that raises and resolves alerts
 * within seconds of the commits that cross a threshold (and of time-based changes), one open
 * alert per (agent, type) across every receiver, webhooks queued in the same transaction as
 * each change, and the list and acknowledge endpoints.
 */
export { AlertEvaluator, DEFAULT_ALERT_EVALUATOR_OPTIONS } from './evaluator.js';
export type { AlertEvaluatorDeps, AlertEvaluatorOptions } from './evaluator.js';
export { registerAlertRoutes, alertEndpoints } from './routes.js';
export type { AlertRouteDeps, AlertRoutes } from './routes.js';
export { ALERT_TYPES, SEVERITY } from './alert-types.js';
export type { Alert, AlertState, AlertType, ResolutionReason, Severity } from './alert-types.js';
export { registerAlertMetrics } from './metrics.js';
export type { AlertMetrics } from './metrics.js';
export { fireInTransaction, resolveInTransaction } from './alert-transitions.js';
export { listAlerts, acknowledgeAlert } from './alert-queries.js';
export type { AlertOwner, AlertPage, StateFilter } from './alert-queries.js';
