import { ReadError } from './read-errors.js';

/** The query parameters of one request, each present at most once. */
export type QueryParams = ReadonlyMap<string, string>;

/**
 * Splits the raw query string (as sent) into parameters, refusing any name this endpoint
 * does not take and any name given twice: a typo must not silently widen a window or
 * drop a filter (docs/read-api.md §7 conventions).
 */
export function parseQuery(raw: string, allowed: ReadonlySet<string>): QueryParams | ReadError {
  const out = new Map<string, string>();
  if (raw === '') return out;
  for (const [name, value] of new URLSearchParams(raw)) {
    if (!allowed.has(name)) return new ReadError('invalid_query', `Unknown query parameter '${printable(name)}'.`);
    if (out.has(name)) return new ReadError('invalid_query', `Query parameter '${name}' is given more than once.`);
    out.set(name, value);
  }
  return out;
}

/** Names echoed in an error message are cut short and kept to printable ASCII. */
function printable(name: string): string {
  return name.slice(0, 40).replace(/[^\x20-\x7e]/g, '?');
}

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;

/** `limit`: 1 to 500, default 50. */
export function parseLimit(q: QueryParams): number | ReadError {
  const v = q.get('limit');
  if (v === undefined) return DEFAULT_LIMIT;
  if (!/^\d{1,3}$/.test(v) || Number(v) < 1 || Number(v) > MAX_LIMIT) {
    return new ReadError('invalid_query', `Query parameter 'limit' must be an integer from 1 to ${MAX_LIMIT}.`);
  }
  return Number(v);
}

/** `success`: true or false, absent for both. */
export function parseBoolean(q: QueryParams, name: string): boolean | undefined | ReadError {
  const v = q.get(name);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return new ReadError('invalid_query', `Query parameter '${name}' must be true or false.`);
}

/** Agent ids are base58 public keys. */
const AGENT_ID = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;

/**
 * Vendor and gateway ids are what ingest stores (docs/protocol.md §5): 1 to 64 characters,
 * no NUL; spaces and any script included, so every stored id can be asked for.
 */
function isStoredId(v: string): boolean {
  if (v.length === 0 || v.length > 128 || v.includes('\0')) return false;
  let chars = 0;
  for (const _ of v) chars++;
  return chars <= 64;
}

export function parseAgentIdParam(q: QueryParams): string | undefined | ReadError {
  const v = q.get('agent_id');
  if (v === undefined) return undefined;
  if (!AGENT_ID.test(v)) return new ReadError('invalid_query', "Query parameter 'agent_id' is not an agent id (base58 public key).");
  return v;
}

export function parseVendorId(q: QueryParams): string | undefined | ReadError {
  const v = q.get('vendor_id');
  if (v === undefined) return undefined;
  if (!isStoredId(v)) return new ReadError('invalid_query', "Query parameter 'vendor_id' must be 1 to 64 characters without NUL.");
  return v;
}

export function parseGatewayId(q: QueryParams): string | ReadError {
  const v = q.get('gateway_id');
  if (v === undefined) return new ReadError('invalid_query', "Query parameter 'gateway_id' is required.");
  if (!isStoredId(v)) return new ReadError('invalid_query', "Query parameter 'gateway_id' must be 1 to 64 characters without NUL.");
  return v;
}

export function isAgentId(v: string): boolean {
  return AGENT_ID.test(v);
}
