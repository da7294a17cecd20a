/** The outcomes §6 allows for a body that decodes to events with these expectations. */
import type { EventExpectation, Outcome } from './fuzz-case.js';

export function eventsOutcomes(events: readonly EventExpectation[]): Outcome[] {
  // An empty batch has nothing to accept: 202 needs "at least one event accepted".
  if (events.length === 0) return ['no_valid_events', 'invalid_body'];
  if (events.some((e) => e.verdict === 'accept')) return ['accepted'];
  if (events.every((e) => e.verdict === 'reject')) return ['no_valid_events'];
  return ['accepted', 'no_valid_events'];
}

export function union(...lists: readonly (readonly Outcome[])[]): Outcome[] {
  return [...new Set(lists.flat())];
}

/** Every event of a request that must be refused as a whole is, for the ledger, refused. */
export function allRejected(events: readonly EventExpectation[]): EventExpectation[] {
  return events.map((e) => ({ ...e, verdict: 'reject' as const, codes: e.codes.length > 0 ? e.codes : ['invalid_event'] }));
}
