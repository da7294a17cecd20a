/**
 * The one retry policy of the receiver and its SDK: jittered exponential backoff. Free of
 * dependencies and of Node.js APIs, so the SDK imports it in any runtime.
 */
export { backoffDelayMs, type BackoffPolicy } from './backoff.js';
