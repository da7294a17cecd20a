import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** Runs the receiver until SIGTERM or SIGINT, then stops it gracefully; a second signal exits at once. */
export async function serveCommand(config: Config, log: Logger): Promise<number> {
  // Handlers go in before start-up: a SIGTERM that arrives while starting stops the receiver
  // as soon as it is up, instead of killing it half-started.
  let signalled: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    signalled(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  // Loaded here, not at the top: the other commands need neither uWebSockets.js nor the workers.
  const { startReceiver } = await import('../receiver.js');
  const receiver = await startReceiver(config, log);
  await stopRequested;
  try {
    await receiver.stop();
    return 0;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'error while stopping');
    return 1;
  }
}
