import { describe, expect, it } from 'vitest';
import { classifyPgError, classifySqlState, type PgErrorClass } from '../../src/database/index.js';

/**
 * Every SQLSTATE class of PostgreSQL (errcodes appendix), with the class its conditions get
 * unless named below: what a failover, a restart, a rotated password or a full disk can
 * cause is `unavailable` (spooled, replayed), what a retry cannot fix is `permanent`.
 */
const CLASSES: [string, PgErrorClass, string][] = [
  ['00', 'permanent', 'successful completion (never an error)'],
  ['01', 'permanent', 'warning'],
  ['02', 'permanent', 'no data'],
  ['03', 'permanent', 'SQL statement not yet complete'],
  ['08', 'unavailable', 'connection exception'],
  ['09', 'permanent', 'triggered action exception'],
  ['0A', 'permanent', 'feature not supported'],
  ['0B', 'permanent', 'invalid transaction initiation'],
  ['0F', 'permanent', 'locator exception'],
  ['0L', 'permanent', 'invalid grantor'],
  ['0P', 'permanent', 'invalid role specification'],
  ['0Z', 'permanent', 'diagnostics exception'],
  ['20', 'permanent', 'case not found'],
  ['21', 'permanent', 'cardinality violation'],
  ['22', 'permanent', 'data exception'],
  ['23', 'permanent', 'integrity constraint violation'],
  ['24', 'permanent', 'invalid cursor state'],
  ['25', 'permanent', 'invalid transaction state'],
  ['26', 'permanent', 'invalid SQL statement name'],
  ['27', 'permanent', 'triggered data change violation'],
  ['28', 'unavailable', 'invalid authorization specification'],
  ['2B', 'permanent', 'dependent privilege descriptors still exist'],
  ['2D', 'permanent', 'invalid transaction termination'],
  ['2F', 'permanent', 'SQL routine exception'],
  ['34', 'permanent', 'invalid cursor name'],
  ['38', 'permanent', 'external routine exception'],
  ['39', 'permanent', 'external routine invocation exception'],
  ['3B', 'permanent', 'savepoint exception'],
  ['3D', 'permanent', 'invalid catalog name'],
  ['3F', 'permanent', 'invalid schema name'],
  ['40', 'retry', 'transaction rollback'],
  ['42', 'permanent', 'syntax error or access rule violation'],
  ['44', 'permanent', 'WITH CHECK OPTION violation'],
  ['53', 'unavailable', 'insufficient resources'],
  ['54', 'permanent', 'program limit exceeded'],
  ['55', 'permanent', 'object not in prerequisite state'],
  ['57', 'unavailable', 'operator intervention'],
  ['58', 'unavailable', 'system error'],
  ['72', 'unavailable', 'snapshot failure'],
  ['F0', 'unavailable', 'configuration file error'],
  ['HV', 'permanent', 'foreign data wrapper error'],
  ['P0', 'permanent', 'PL/pgSQL error'],
  ['XX', 'unavailable', 'internal error'],
];

/** Conditions named one by one, most of them exceptions to their class. */
const CODES: [string, PgErrorClass, string][] = [
  ['25006', 'unavailable', 'read-only SQL transaction (standby, default_transaction_read_only)'],
  ['25P02', 'unavailable', 'in failed SQL transaction (a fresh connection fixes it)'],
  ['25P03', 'unavailable', 'idle-in-transaction session timeout'],
  ['25001', 'permanent', 'active SQL transaction'],
  ['28000', 'unavailable', 'invalid authorization specification'],
  ['28P01', 'unavailable', 'invalid password (rotated)'],
  ['40001', 'retry', 'serialization failure'],
  ['40P01', 'retry', 'deadlock detected'],
  ['40002', 'permanent', 'transaction integrity constraint violation'],
  ['40003', 'unavailable', 'statement completion unknown'],
  ['55P03', 'unavailable', 'lock not available (lock_timeout)'],
  ['55006', 'unavailable', 'object in use'],
  ['55000', 'permanent', 'object not in prerequisite state'],
  ['57014', 'unavailable', 'query canceled (statement_timeout)'],
  ['57P01', 'unavailable', 'admin shutdown'],
  ['57P02', 'unavailable', 'crash shutdown'],
  ['57P03', 'unavailable', 'cannot connect now'],
  ['58030', 'unavailable', 'I/O error'],
  ['53100', 'unavailable', 'disk full'],
  ['53200', 'unavailable', 'out of memory'],
  ['53300', 'unavailable', 'too many connections'],
  ['08006', 'unavailable', 'connection failure'],
  ['22P02', 'permanent', 'invalid text representation'],
  ['22021', 'permanent', 'character not in repertoire'],
  ['23502', 'permanent', 'not-null violation'],
  ['23505', 'permanent', 'unique violation (the sink dedupes before asking)'],
  ['23514', 'permanent', 'check violation'],
  ['42P01', 'permanent', 'undefined table'],
  ['42703', 'permanent', 'undefined column'],
  ['42501', 'permanent', 'insufficient privilege'],
];

function pgError(code: string): Error {
  return Object.assign(new Error(`condition ${code}`), { code, severity: 'ERROR' });
}

describe('classifyPgError', () => {
  it.each(CLASSES)('SQLSTATE class %s is %s (%s)', (cls, expected) => {
    // The class's generic condition (NN000) and an unnamed one (NNZZZ) both follow the class.
    expect(classifySqlState(`${cls}000`)).toBe(expected);
    expect(classifyPgError(pgError(`${cls}ZZZ`))).toBe(expected);
  });

  it.each(CODES)('SQLSTATE %s is %s (%s)', (code, expected) => {
    expect(classifyPgError(pgError(code))).toBe(expected);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])(
    'system error %s is unavailable',
    (code) => {
      expect(classifyPgError(Object.assign(new Error(`connect ${code}`), { code }))).toBe('unavailable');
    },
  );

  it.each([
    'Connection terminated',
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'Query read timeout',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error and is not queryable',
    'Client was closed and is not queryable',
    'Cannot use a pool after calling end on the pool',
  ])('driver error "%s" is unavailable', (message) => {
    expect(classifyPgError(new Error(message))).toBe('unavailable');
  });

  it('a bug in our own code is permanent; anything unknown is kept (unavailable)', () => {
    expect(classifyPgError(new TypeError("Cannot read properties of undefined (reading 'length')"))).toBe('permanent');
    expect(classifyPgError(new RangeError('offset out of range'))).toBe('permanent');
    expect(classifyPgError(new Error('something nobody has seen'))).toBe('unavailable');
    expect(classifyPgError(null)).toBe('unavailable');
    expect(classifyPgError('a string')).toBe('unavailable');
  });
});
