/**
 * Validate-and-write helpers, one per column kind. Each checks a value against its
 * column (type, range, VARCHAR length, what PostgreSQL can store), writes it as one COPY
 * field, and returns null; or returns the error message, naming the field, and writes
 * nothing. Absent means `undefined` or `null`.
 */
import type { CopyTextWriter } from '../copy-text-writer.js';
import type { RowWriter } from '../row-writer.js';
import { parseInt64, parseNonNegativeInt64 } from '../int64.js';
import { TEXT_PLAIN, TEXT_UNSTORABLE, fitsVarchar, textClass } from '../pg-text.js';

export type FieldError = string | null;

/** Checks `v` against VARCHAR(max) and what PostgreSQL stores, and writes it; or returns the problem. */
function checkedText(w: RowWriter, v: string, max: number, name: string): FieldError {
  if (!fitsVarchar(v, max)) return `${name}: must be at most ${max} characters`;
  if (w.tryAsciiField(v)) return null;
  const cls = textClass(v);
  if (cls === TEXT_UNSTORABLE) return `${name}: must not contain NUL characters or unpaired surrogates`;
  if (cls === TEXT_PLAIN) w.plainTextField(v);
  else w.textField(v);
  return null;
}

/** A non-empty string of at most `max` characters. */
export function requiredText(w: RowWriter, v: unknown, max: number, name: string): FieldError {
  if (v === undefined || v === null) return `${name}: required`;
  if (typeof v !== 'string') return `${name}: must be a string`;
  if (v.length === 0) return `${name}: must not be empty`;
  return checkedText(w, v, max, name);
}

/** A string of at most `max` characters, or NULL when absent. */
export function optionalText(w: RowWriter, v: unknown, max: number, name: string): FieldError {
  if (v === undefined || v === null) {
    w.nullField();
    return null;
  }
  if (typeof v !== 'string') return `${name}: must be a string`;
  return checkedText(w, v, max, name);
}

export function intProblem(v: unknown, min: number, max: number, name: string): FieldError {
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (v > max) return `${name}: must be at most ${max}`;
    if (v >= min) return null;
  }
  return min === 0 ? `${name}: must be an integer >= 0` : `${name}: must be an integer from ${min} to ${max}`;
}

/** An integer in [min, max] (a JSON number / MessagePack int; never a string). */
export function requiredInt(w: RowWriter, v: unknown, min: number, max: number, name: string): FieldError {
  if (v === undefined || v === null) return `${name}: required`;
  const problem = intProblem(v, min, max, name);
  if (problem !== null) return problem;
  w.intField(v as number);
  return null;
}

/** An integer in [min, max], or `fallback` (a number, or null for NULL) when absent. */
export function optionalInt(w: RowWriter, v: unknown, min: number, max: number, fallback: number | null, name: string): FieldError {
  if (v === undefined || v === null) {
    if (fallback === null) w.nullField();
    else w.intField(fallback);
    return null;
  }
  const problem = intProblem(v, min, max, name);
  if (problem !== null) return problem;
  w.intField(v as number);
  return null;
}

export function int64Problem(nonNegative: boolean, name: string): string {
  return nonNegative
    ? `${name}: must be an integer >= 0 that fits int64 (a number or a decimal string)`
    : `${name}: must be an integer that fits int64 (a number or a decimal string)`;
}

/** An int64 (number or decimal string), kept exact. */
export function int64(w: RowWriter, v: unknown, required: boolean, nonNegative: boolean, name: string): FieldError {
  if (v === undefined || v === null) {
    if (required) return `${name}: required`;
    w.nullField();
    return null;
  }
  const parsed = nonNegative ? parseNonNegativeInt64(v) : parseInt64(v);
  if (parsed === null) return int64Problem(nonNegative, name);
  w.int64Field(parsed);
  return null;
}

export function bool(w: RowWriter, v: unknown, required: boolean, name: string): FieldError {
  if (v === undefined || v === null) {
    if (required) return `${name}: required`;
    w.nullField();
    return null;
  }
  if (typeof v !== 'boolean') return `${name}: must be a boolean`;
  w.boolField(v);
  return null;
}

/** An optional finite double in [min, max] (gateway_telemetry.risk_score: that table is written as COPY text). */
export function optionalNumber(w: CopyTextWriter, v: unknown, min: number, max: number, name: string): FieldError {
  if (v === undefined || v === null) {
    w.nullField();
    return null;
  }
  if (typeof v !== 'number' || !(v >= min && v <= max)) return `${name}: must be a number from ${min} to ${max}`;
  w.floatField(v);
  return null;
}

