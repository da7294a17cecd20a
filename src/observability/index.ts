/**
 * What /metrics needs beyond the metric definitions (src/metrics.ts): an exposition that
 * degrades instead of failing, and the collectors that read PostgreSQL at scrape time.
 */
export { DegradingExposition } from './degrading-exposition.js';
export { registerOutboxLagMetrics } from './outbox-lag.js';
