import type { RowGroup } from '../codec/index.js';

/**
 * Rows of one batch grouped by UTC minute, entity and vendor (the codec's RowGroup): what a
 * committed transaction writes into rollup_pending (pending-tallies.ts) for the folder.
 */
export type RollupGroup = RowGroup;
