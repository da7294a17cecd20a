/**
 * Times in and out of the read queries. PostgreSQL keeps microseconds and a JS Date only
 * milliseconds, so times that take part in a keyset travel as text: the queries print them
 * with `utcMicros(column)` and compare them with `$n::timestamptz`.
 */

/** SQL: a timestamptz column as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, independent of the session's TimeZone. */
export function utcMicros(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** The RFC 3339 form the API answers with: milliseconds, or microseconds when the row has them. */
export function apiTime(micros: string): string;
export function apiTime(micros: string | null): string | null;
export function apiTime(micros: string | null): string | null {
  if (micros === null) return null;
  return micros.endsWith('000Z') ? `${micros.slice(0, -4)}Z` : micros;
}

export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an RFC 3339 time (fractions past milliseconds are cut), or null. */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (m === null) return null;
  const [, , mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const ms = Date.parse(text.slice(0, 19).toUpperCase() + (m[7] ?? '').slice(0, 4) + (m[8] as string).toUpperCase());
  return Number.isFinite(ms) ? ms : null;
}
