import type { Logger } from './logger.js';

/** One component of the running receiver: how it starts, and how it stops. */
export interface LifecycleStep {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * The receiver's one ordered list of components. Steps start in list order and stop in
 * the reverse order, so whatever a step needs has started before it and is still running
 * while it stops. A start that fails stops the steps already started, in reverse, before
 * the failure is rethrown: nothing started is left behind.
 */
export class Lifecycle {
  private readonly running: LifecycleStep[] = [];

  constructor(private readonly log: Logger) {}

  async start(steps: readonly LifecycleStep[]): Promise<void> {
    for (const step of steps) {
      try {
        await step.start();
      } catch (err) {
        this.log.error({ err: (err as Error).message, step: step.name }, 'start-up failed; stopping what had started');
        await this.stop();
        throw err;
      }
      this.running.push(step);
    }
  }

  /** Stops every started step, last first. A step that fails to stop is logged; the others still stop. */
  async stop(): Promise<void> {
    for (let step = this.running.pop(); step !== undefined; step = this.running.pop()) {
      try {
        await step.stop();
      } catch (err) {
        this.log.warn({ err: (err as Error).message, step: step.name }, 'a component failed to stop cleanly');
      }
    }
  }
}
