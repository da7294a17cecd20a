/**
 * The producer's clock offset from the receiver's, read from a response's `Date` header
 * (docs/protocol.md §6): a 401 `timestamp_out_of_window` carries it so that a producer whose
 * clock is wrong can sign with the receiver's time and retry once.
 *
 * `Date` has whole seconds and is taken somewhere between sending and receiving, so the
 * estimate centres it: the header's second plus half a second, against the middle of the
 * round trip. The error stays within a second plus half the round trip, far inside the
 * receiver's ±300 s window.
 */

/** Milliseconds to add to this clock to read the receiver's; null when `date` is absent or unreadable. */
export function clockOffsetFromDate(date: string | null, sentAtMs: number, receivedAtMs: number): number | null {
  if (date === null || date === '') return null;
  const receiverMs = Date.parse(date);
  if (!Number.isFinite(receiverMs)) return null;
  return Math.round(receiverMs + 500 - (sentAtMs + receivedAtMs) / 2);
}
