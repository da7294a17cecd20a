import { utcMicros } from './times.js';

/**
 * SQL expression for `complete_through`: the start of the statement's transaction, printed.
 * A read endpoint's figures come from one statement, and one statement sees one snapshot
 * (folded rollups and pending tallies as of one instant). Its transaction starts when
 * PostgreSQL receives the statement, before that snapshot is taken, so everything committed
 * before this instant is in the figures.
 */
export const COMPLETE_THROUGH_SQL = utcMicros('transaction_timestamp()');
