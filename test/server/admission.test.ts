import { describe, expect, it } from 'vitest';
import { AdmissionBudget, REQUEST_OVERHEAD_BYTES } from '../../src/server/admission.js';

describe('AdmissionBudget', () => {
  it('bounds what one address holds and what all hold together', () => {
    const budget = new AdmissionBudget(1000, 400);
    expect(budget.tryHold('a', 300)).toBe(true);
    expect(budget.tryHold('a', 200), 'over the per-address cap').toBe(false);
    expect(budget.heldBy('a')).toBe(300);
    expect(budget.tryHold('b', 400)).toBe(true);
    expect(budget.tryHold('c', 400), 'over the total').toBe(false);
    expect(budget.tryHold('c', 300)).toBe(true);
    expect(budget.heldBytes).toBe(1000);
  });

  it('gives bytes back in any order: the first holder staying does not keep the others', () => {
    const budget = new AdmissionBudget(1000, 1000);
    expect(budget.tryHold('slow', 500)).toBe(true);
    for (let round = 0; round < 100; round++) {
      expect(budget.tryHold('fast', 500)).toBe(true);
      budget.release('fast', 500);
    }
    expect(budget.heldBytes).toBe(500);
    budget.release('slow', 500);
    expect(budget.heldBytes).toBe(0);
    expect(budget.heldBy('slow')).toBe(0);
  });

  it('charges an empty body something, so zero-length requests cannot be held without bound', () => {
    expect(AdmissionBudget.cost(0)).toBe(REQUEST_OVERHEAD_BYTES);
    expect(AdmissionBudget.cost(100)).toBe(100 + REQUEST_OVERHEAD_BYTES);
  });
});
