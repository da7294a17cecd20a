import type { Logger } from './logger.js';

/** One component of the running receiver: how it starts, and how it stops. */
export interface LifecycleStep {
  readonly name: string;
  start(): void | Promise<unknown>;
  stop(): void | Promise<unknown>;
  /**
   * How long its stop may take before the next step stops anyway; the lifecycle's default
   * when absent. A step whose stop has a deadline of its own gives that plus a margin.
   */
  readonly stopTimeoutMs?: number;
}

/** Default deadline of one step's stop. */
export const DEFAULT_STEP_STOP_TIMEOUT_MS = 2000;

/**
 * The receiver's one ordered list of components. Steps start in list order and stop in
 * the reverse order, so whatever a step needs has started before it and is still running
 * while it stops. A start that fails stops the steps already started, in reverse, before
 * the failure is rethrown: nothing started is left behind.
 *
 * Every stop has a deadline: a step still stopping past it is logged and left behind, and the
 * next one stops. A component waiting on a connection that never answers (a black-holed
 * PostgreSQL) must not hold the process; the process exits after the last step, which ends
 * what was left behind.
 */
export class Lifecycle {
  private readonly running: LifecycleStep[] = [];

  constructor(
    private readonly log: Logger,
    private readonly stepStopTimeoutMs = DEFAULT_STEP_STOP_TIMEOUT_MS,
  ) {}

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

  /** Stops every started step, last first. A step that fails or overruns its deadline is logged; the others still stop. */
  async stop(): Promise<void> {
    for (let step = this.running.pop(); step !== undefined; step = this.running.pop()) {
      const timeoutMs = step.stopTimeoutMs ?? this.stepStopTimeoutMs;
      const started = performance.now();
      try {
        const finished = await withDeadline(Promise.resolve().then(() => step.stop()), timeoutMs);
        if (!finished) this.log.warn({ step: step.name, timeoutMs }, 'a component did not stop in time; stopping the next one');
      } catch (err) {
        this.log.warn({ err: (err as Error).message, step: step.name }, 'a component failed to stop cleanly');
      }
      this.log.debug({ step: step.name, ms: Math.round(performance.now() - started) }, 'stopped');
    }
  }
}

/** True once `work` settles within `ms`, false if the deadline comes first (`work` runs on). */
async function withDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
