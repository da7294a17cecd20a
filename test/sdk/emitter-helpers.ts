import { expect } from 'vitest';
import type { DeliveryStats, InteractionInput } from '../../src/sdk/index.js';

/** Every recorded event leaves through exactly one counter. */
export function expectBalanced(s: DeliveryStats): void {
  expect(s.recorded).toBe(s.queued + s.inFlight + s.sent + s.dropped + s.droppedTooLarge + s.failed + s.abandoned);
}

export function interaction(i: number, extra: Partial<InteractionInput> = {}): InteractionInput {
  return { vendorId: 'weather-api', success: true, latencyMs: 10 + (i % 50), amountAtomic: 1000n + BigInt(i), ...extra };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function idsOf(events: readonly Record<string, unknown>[]): string[] {
  return events.map((e) => e['id'] as string);
}
