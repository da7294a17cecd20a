/**
 * The counts only gateway tallies carry (schema/postgres/012): requests by class of
 * status_code and requests whose payment was verified. They travel beside the other counts
 * from rollup_pending into gateway_stats_minute / _hourly / _daily; agent rows leave them 0.
 */
export interface StatusClassCounts {
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
  paymentsVerified: number;
}

/** The columns, in the order of StatusClassCounts' fields, in every table that has them. */
export const STATUS_CLASS_COLUMNS = ['status_2xx', 'status_3xx', 'status_4xx', 'status_5xx', 'payments_verified'] as const;

/** Value columns of a gateway rollup table's merge (locked-rows-sql.ts RollupTableShape.values). */
export const STATUS_CLASS_VALUES = STATUS_CLASS_COLUMNS.map((c) => [c, 'bigint'] as const);

/** Select-list of the stored counts under the lock, as text (int64 stays exact). */
export const STATUS_CLASS_READ = STATUS_CLASS_COLUMNS.map((c) => `t.${c}::text AS ${c}`).join(', ');

/** The stored counts as read with STATUS_CLASS_READ. */
export type StoredStatusClasses = Partial<Record<(typeof STATUS_CLASS_COLUMNS)[number], string>>;

export function emptyStatusClasses(): StatusClassCounts {
  return { status2xx: 0, status3xx: 0, status4xx: 0, status5xx: 0, paymentsVerified: 0 };
}

export function addStatusClasses(into: StatusClassCounts, from: StatusClassCounts): void {
  into.status2xx += from.status2xx;
  into.status3xx += from.status3xx;
  into.status4xx += from.status4xx;
  into.status5xx += from.status5xx;
  into.paymentsVerified += from.paymentsVerified;
}

/** Stored + folded, exactly (BigInt), as the decimal strings the UPDATE writes, in column order. */
export function mergedStatusClasses(stored: StoredStatusClasses | undefined, add: StatusClassCounts): string[] {
  return [
    (toBigInt(stored?.status_2xx) + BigInt(add.status2xx)).toString(),
    (toBigInt(stored?.status_3xx) + BigInt(add.status3xx)).toString(),
    (toBigInt(stored?.status_4xx) + BigInt(add.status4xx)).toString(),
    (toBigInt(stored?.status_5xx) + BigInt(add.status5xx)).toString(),
    (toBigInt(stored?.payments_verified) + BigInt(add.paymentsVerified)).toString(),
  ];
}

function toBigInt(v: string | undefined): bigint {
  return v === undefined || v === '' ? 0n : BigInt(v);
}
