/**
 * What a failed write means: PostgreSQL cannot take writes now (a failover, a restart, a
 * rotated password, a full disk: the batch goes to the spool and is replayed later), or it
 * will never take this batch (the data or the SQL is wrong: a retry cannot fix it).
 */
export type FailureKind = 'unavailable' | 'permanent';

/** `retry`: a conflict with another transaction; running the same transaction again at once succeeds. */
export type PgErrorClass = 'retry' | FailureKind;

/**
 * SQLSTATE classes (the first two characters) whose every condition a retry can fix.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const UNAVAILABLE_CLASSES = new Set([
  '08', // connection exception: the connection failed or could not be made
  '28', // invalid authorization: a rotated password (28P01), pg_hba not yet allowing a new primary's clients (28000)
  '53', // insufficient resources: disk full (53100), out of memory (53200), too many connections (53300)
  '57', // operator intervention: query canceled by statement timeout (57014), shutdown (57P01-57P03), database dropped
  '58', // system error outside PostgreSQL: I/O error (58030)
  'XX', // internal error, data or index corruption: the server is at fault, not this batch
  'F0', // configuration file error on the server
  '72', // snapshot too old
]);

/** Single conditions a retry can fix, in classes that are otherwise permanent. */
const UNAVAILABLE_CODES = new Set([
  '25006', // read-only SQL transaction: a standby, or a primary being demoted
  '25P02', // in failed SQL transaction: a connection left in a broken transaction; a fresh one works
  '25P03', // idle-in-transaction session timeout: the server ended the session
  '40003', // statement completion unknown: the commit may or may not have happened; replay dedupes
  '55P03', // lock not available: lock_timeout fired
  '55006', // object in use
]);

/**
 * Transaction rollback (class 40): a conflict with concurrent transactions, such as a
 * serialization failure (40001) or a deadlock (40P01), retried at once a few times before
 * being treated as unavailable. Two of its conditions are not conflicts:
 */
const RETRY_CLASS = '40';
const PERMANENT_CODES = new Set(['40002']); // integrity constraint violation at commit: the data is wrong

/**
 * Errors of the driver and the pool that carry no SQLSTATE: the connection broke, or no answer
 * came in time (client-side query timeout, connect timeout, pool checkout timeout).
 */
const CONNECTION_MESSAGES = [
  /^Connection terminated/, // "Connection terminated", "… unexpectedly", "… due to connection timeout"
  /^Query read timeout$/, // query_timeout: a black-holed server
  /^timeout exceeded when trying to connect$/, // pg-pool: no connection within connectionTimeoutMillis
  /is not queryable$/, // a client that already failed or was closed
  /^Cannot use a pool after calling end on the pool$/, // shutting down: the batch goes to the spool
  /^The server does not support SSL connections$/,
];

/** JavaScript errors of our own code: no retry fixes a bug. */
const PROGRAMMING_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/**
 * The one place that decides which PostgreSQL failures are retryable. Everything a failover,
 * a restart, a rotated password or a full disk can cause is `unavailable` (spooled, replayed
 * later); conditions of the data or the SQL (22xxx data exceptions, 23xxx constraint
 * violations, 42xxx syntax and schema errors, and every other class not named above) are
 * `permanent`. A unique violation (23505) is `permanent` here: the sink's dedupe path takes it
 * before asking. An error this function does not recognise is `unavailable`, because refusing
 * to keep acknowledged data is worse than retrying something that fails again.
 */
export function classifyPgError(err: unknown): PgErrorClass {
  const code = (err as { code?: unknown } | null)?.code;
  // Node.js system errors first (ECONNRESET, ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND…):
  // EPIPE has five characters too, and no SQLSTATE class begins with E.
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return 'unavailable';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return classifySqlState(code);
  if (err instanceof Error) {
    if (CONNECTION_MESSAGES.some((re) => re.test(err.message))) return 'unavailable';
    if (PROGRAMMING_ERRORS.some((type) => err instanceof type)) return 'permanent';
  }
  return 'unavailable';
}

/** The class of one SQLSTATE. */
export function classifySqlState(sqlState: string): PgErrorClass {
  if (UNAVAILABLE_CODES.has(sqlState)) return 'unavailable';
  if (PERMANENT_CODES.has(sqlState)) return 'permanent';
  const cls = sqlState.slice(0, 2);
  if (cls === RETRY_CLASS) return 'retry';
  return UNAVAILABLE_CLASSES.has(cls) ? 'unavailable' : 'permanent';
}
