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

describe('AdmissionBudget borrowing', () => {
  it('lets one address go past its allowance only from the shared part, leaving the rest to others', () => {
    // Total 1000, 100 per address, 400 shared beyond allowances.
    const budget = new AdmissionBudget(1000, 100, 400);
    for (let i = 0; i < 5; i++) expect(budget.tryHold('busy', 100)).toBe(true);
    expect(budget.borrowedBytes).toBe(400);
    expect(budget.tryHold('busy', 1), 'the shared part is used up').toBe(false);
    expect(budget.tryHold('slow', 100), 'within its own allowance').toBe(true);
    expect(budget.tryHold('slow', 1)).toBe(false);
    // Everyone else still has what the shared part and the two allowances leave.
    for (let i = 0; i < 4; i++) expect(budget.tryHold(`other-${i}`, 100)).toBe(true);
    expect(budget.heldBytes).toBe(1000);
    // Giving back the borrowed bytes first frees the shared part for anyone over its allowance.
    budget.release('busy', 100);
    expect(budget.borrowedBytes).toBe(300);
    expect(budget.tryHold('slow', 100)).toBe(true);
    expect(budget.borrowedBytes).toBe(400);
    budget.release('busy', 400);
    expect(budget.borrowedBytes).toBe(100);
    expect(budget.heldBy('busy')).toBe(0);
  });
});
