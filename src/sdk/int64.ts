import { MachPayInputError } from './errors.js';

/**
 * int64 fields (`nonce`, `*_atomic`, `*_lamports`) are held as bigint inside the SDK so
 * no value ever passes through a float; each body encoding decides how to write them.
 */

export const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
export const INT64_MIN = -0x8000_0000_0000_0000n;

/** What callers may pass for an int64 field: a bigint, a safe integer, or a decimal string. */
export type Int64Input = bigint | number | string;

const DECIMAL = /^-?\d{1,19}$/;

/** Validates and converts to bigint, throwing {@link MachPayInputError} naming `field`. */
export function toInt64(value: Int64Input, field: string, min: bigint = INT64_MIN): bigint {
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else if (typeof value === 'number') {
    // A number above 2^53 has already lost digits; refuse it rather than store a neighbour.
    if (!Number.isSafeInteger(value)) throw new MachPayInputError(field, 'must be a safe integer; pass a bigint or a decimal string for larger values');
    v = BigInt(value);
  } else if (typeof value === 'string' && DECIMAL.test(value)) {
    v = BigInt(value);
  } else {
    throw new MachPayInputError(field, 'must be a bigint, an integer number or a decimal string');
  }
  if (v > INT64_MAX || v < min) throw new MachPayInputError(field, `must be within [${min}, ${INT64_MAX}]`);
  return v;
}
