/**
 * Receiver bugs the fuzzer has found and reported, each with a minimal failing test in
 * receiver-bugs.test.ts. While they are open the generator does not produce their
 * triggers, so that a generated run fails only for something new; FUZZ_KNOWN_BUGS=1
 * generates them again (to check a fix with the whole fuzzer).
 */
export const GENERATE_KNOWN_BUG_TRIGGERS = process.env.FUZZ_KNOWN_BUGS === '1';

export const KNOWN_BUGS = {
  /**
   * uWebSockets.js trims bytes ≥ 0x80 at the end of a header value as if they were
   * whitespace (`ce-id: x-é` reads as `x-`; inner ones are kept and read as Latin-1): a
   * binary-mode event is acknowledged and stored under an id (or source) it was not sent
   * with, and distinct ids (`x-é`, `x-ü`) collapse into one row.
   */
  headerValueTrailingBytes: 'binary mode: trailing non-ASCII bytes of ce-* header values are dropped',
} as const;
