import { WebhookRequestError } from './webhook-errors.js';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

/** The opaque cursor: the last attempt id of a page, so the next starts below it (keyset). */
export function encodeCursor(beforeId: string): string {
  return Buffer.from(`a${beforeId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^a[1-9]\d{0,18}$/.test(text) ? text.slice(1) : null;
}

function invalidQuery(message: string): WebhookRequestError {
  return new WebhookRequestError('invalid_query', message);
}

/**
 * `?cursor&limit` of GET /v1/webhooks/{id}/deliveries. Every parameter is validated and named
 * when wrong, unknown ones included (a misspelt `limt` would otherwise be silently ignored).
 */
export function parseDeliveriesQuery(query: string): { limit: number; beforeId: string | null } {
  let limit = DEFAULT_PAGE_LIMIT;
  let beforeId: string | null = null;
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(query)) {
    if (seen.has(name)) throw invalidQuery(`${name}: given more than once`);
    seen.add(name);
    if (name === 'limit') {
      if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > MAX_PAGE_LIMIT) {
        throw invalidQuery(`limit: an integer from 1 to ${MAX_PAGE_LIMIT}`);
      }
      limit = Number(value);
    } else if (name === 'cursor') {
      beforeId = decodeCursor(value);
      if (beforeId === null) throw invalidQuery('cursor: not a cursor this endpoint returned');
    } else {
      throw invalidQuery(`${name}: unknown parameter (cursor and limit are accepted)`);
    }
  }
  return { limit, beforeId };
}
