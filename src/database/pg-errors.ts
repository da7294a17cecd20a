/** What a failed write means: PostgreSQL cannot take writes now, or it never will take this one. */
export type FailureKind = 'unavailable' | 'permanent';

/** The one place that decides which PostgreSQL failures are worth retrying, and how. */
export function classifyPgError(err: unknown): 'retry' | FailureKind {
  const code = (err as { code?: unknown }).code;
  if (code === '40P01' || code === '40001') return 'retry';
  if (typeof code === 'string') {
    // Connection exceptions, operator intervention (shutdown), insufficient resources.
    if (code.startsWith('08') || code.startsWith('57') || code.startsWith('53')) return 'unavailable';
    if (/^E[A-Z]+$/.test(code)) return 'unavailable'; // ECONNREFUSED, ECONNRESET, ETIMEDOUT…
    return 'permanent';
  }
  return 'unavailable';
}
