import { ReadError } from './read-errors.js';

/**
 * Opaque cursors: base64url of a JSON array holding the last row's keyset values. Clients
 * pass them back unchanged; the server validates every part before it reaches SQL, so a
 * forged cursor is a 400, never a query error.
 */
export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/** The parts of a cursor whose shape matches `patterns` (one per part), or a 400 naming `cursor`. */
export function decodeCursor(text: string, patterns: readonly RegExp[]): string[] | ReadError {
  const bad = new ReadError('invalid_query', "Query parameter 'cursor' is not a cursor this endpoint returned.");
  if (text.length > 512 || !/^[A-Za-z0-9_-]+$/.test(text)) return bad;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return bad;
  }
  if (!Array.isArray(parsed) || parsed.length !== patterns.length) return bad;
  const out: string[] = [];
  for (let i = 0; i < patterns.length; i++) {
    const part: unknown = parsed[i];
    if (typeof part !== 'string' || !(patterns[i] as RegExp).test(part)) return bad;
    out.push(part);
  }
  return out;
}

/** A PostgreSQL timestamp as the read queries print it for keysets: UTC with microseconds. */
export const MICROS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
/** A signed 64-bit decimal. */
export const INT64_TEXT = /^-?\d{1,19}$/;
