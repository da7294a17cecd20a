import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Lets long CPU work of a read (merging a week of hourly histograms takes ~10 ms here) give
 * the event loop back every `budgetMs`, so ingest requests and other reads are served in
 * between instead of waiting behind it.
 */
export class TimeSlicer {
  private sliceStart = performance.now();

  constructor(private readonly budgetMs = 2) {}

  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.sliceStart < this.budgetMs) return;
    await nextTurn();
    this.sliceStart = performance.now();
  }
}
