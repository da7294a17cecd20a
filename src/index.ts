/**
 * The package's "." export, for embedding the receiver in another process: load the
 * configuration (defaults, then environment, then flags), make a logger, start, and stop.
 * The producer SDK is the "./sdk" export.
 */
export { startReceiver, type RunningReceiver } from './receiver.js';
export { loadConfig, type Config, type ConfigKey } from './config.js';
export { ConfigError } from './config-error.js';
export { createLogger, type Logger } from './logger.js';
export type { Metrics } from './metrics.js';
