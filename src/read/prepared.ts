import type pg from 'pg';
import type { BucketUnit } from './window.js';

/**
 * A read statement per bucket unit, named: PostgreSQL parses it once per connection and,
 * after a few runs, reuses a generic plan (partitions are then pruned at run time) instead
 * of planning every read. Planning was a third to a half of a read's PostgreSQL time.
 */
export function statementPerUnit(name: string, sql: (unit: BucketUnit) => string): (unit: BucketUnit, values: unknown[]) => pg.QueryConfig {
  const text: Record<BucketUnit, string> = { minute: sql('minute'), hour: sql('hour'), day: sql('day') };
  return (unit, values) => ({ name: `${name}-${unit}`, text: text[unit], values });
}
