/**
 * SingleFlight: whatever a caller enqueued before calling run() has been seen by the time its
 * promise resolves, however the call interleaves with a running pass (the microtask gap that
 * a `running ??= job().finally(…)` pattern leaves open).
 */
import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/rollups/single-flight.js';

async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('SingleFlight', () => {
  it('serves every caller at every interleaving, one pass at a time', async () => {
    for (let jobDepth = 0; jobDepth < 4; jobDepth++) {
      for (let delay = 0; delay < 12; delay++) {
        const queue: number[] = [];
        const seen: number[] = [];
        let concurrent = 0;
        let maxConcurrent = 0;
        const flight = new SingleFlight(
          async () => {
            concurrent++;
            maxConcurrent = Math.max(maxConcurrent, concurrent);
            await microtasks(jobDepth);
            seen.push(...queue.splice(0));
            concurrent--;
          },
          () => undefined,
        );
        queue.push(1);
        const first = flight.run();
        await microtasks(delay);
        queue.push(2);
        await flight.run();
        expect(seen, `job depth ${jobDepth}, delay ${delay}`).toContain(2);
        await first;
        expect(seen).toContain(1);
        expect(maxConcurrent).toBe(1);
      }
    }
  });

  it('reports a failing job and keeps serving', async () => {
    const errors: unknown[] = [];
    let fail = true;
    let runs = 0;
    const flight = new SingleFlight(async () => {
      runs++;
      if (fail) throw new Error('boom');
    }, (err) => errors.push(err));
    await flight.run();
    fail = false;
    await flight.run();
    expect(errors).toHaveLength(1);
    expect(runs).toBe(2);
  });
});
