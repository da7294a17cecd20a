import { ReadError } from './read-errors.js';

/**
 * A JSON object body, or a 400 with `code`. An empty body reads as `{}` (a POST with
 * nothing to say), anything else must be a JSON object.
 */
export function parseJsonObject(body: Uint8Array, code: 'invalid_request' | 'invalid_settings'): Record<string, unknown> | ReadError {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
  } catch {
    return new ReadError(code, 'The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new ReadError(code, 'The body must be a JSON object.');
  return parsed as Record<string, unknown>;
}

/** An optional display name: 1 to 128 characters. */
export function parseName(body: Record<string, unknown>, code: 'invalid_request'): string | undefined | ReadError {
  const name = body.name;
  if (name === undefined || name === null) return undefined;
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) return new ReadError(code, "'name' must be a string of 1 to 128 characters.");
  return name;
}

/** Refuses members this endpoint does not take, naming the first. */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[], code: 'invalid_request' | 'invalid_settings'): ReadError | null {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) return new ReadError(code, `Unknown field '${k.slice(0, 40)}'.`);
  }
  return null;
}
