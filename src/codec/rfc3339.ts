/**
 * RFC 3339 `date-time` parsing into a UTC instant with microsecond precision, the
 * resolution of PostgreSQL's timestamptz. Hand-parsed at fixed offsets (no regex, no
 * Date) because it runs once per event.
 *
 * Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, `T` and `Z` in either case.
 * Calendar dates are checked (2026-02-30 is refused), seconds may be 60 (a leap second
 * rolls into the next minute, as PostgreSQL does), and fraction digits beyond the sixth
 * are truncated, never rounded, so a value never moves into the next second. The UTC
 * result must lie in 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z: PostgreSQL has
 * no year 0, and the offset is applied here so the row always carries `+00` (PostgreSQL
 * refuses offsets beyond ±15:59 that RFC 3339 allows).
 */
import { MAX_UTC_SECONDS, MIN_UTC_SECONDS, daysFromCivil, daysInMonth } from './utc-calendar.js';

/** A UTC instant: whole seconds since 1970-01-01T00:00:00Z and 0..999999 microseconds. */
export interface UtcInstant {
  seconds: number;
  micros: number;
}

/** Longest accepted text: 19 + '.' + 38 fraction digits + '+HH:MM' (the fraction is truncated anyway). */
const MAX_LENGTH = 64;

/** Two ASCII digits at `i` as a number, or -1. */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/** Parses `s` into `out`; false (and `out` unspecified) when it is not an acceptable RFC 3339 date-time. */
export function parseRfc3339(s: string, out: UtcInstant): boolean {
  const len = s.length;
  if (len < 20 || len > MAX_LENGTH) return false;
  const y1 = twoDigits(s, 0);
  const y2 = twoDigits(s, 2);
  const month = twoDigits(s, 5);
  const day = twoDigits(s, 8);
  const hour = twoDigits(s, 11);
  const minute = twoDigits(s, 14);
  const second = twoDigits(s, 17);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return false;
  if (minute < 0 || minute > 59 || second < 0 || second > 60) return false;
  const t = s.charCodeAt(10);
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (t !== 84 && t !== 116)) return false; // '-', '-', 'T'/'t'
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false; // ':'
  const year = y1 * 100 + y2;
  if (year < 1 || day > daysInMonth(year, month)) return false;

  let i = 19;
  let micros = 0;
  if (s.charCodeAt(i) === 46 /* '.' */) {
    i++;
    const start = i;
    let scale = 100000;
    for (; i < len; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      // Digits past the sixth are validated but dropped: truncation, in integers only.
      if (scale >= 1) {
        micros += d * scale;
        scale /= 10;
      }
    }
    if (i === start) return false;
  }

  let offset = 0;
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) {
    // 'Z' / 'z'
    if (i + 1 !== len) return false;
  } else if (z === 43 || z === 45) {
    // '+' / '-' HH:MM
    if (i + 6 !== len || s.charCodeAt(i + 3) !== 58) return false;
    const oh = twoDigits(s, i + 1);
    const om = twoDigits(s, i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset = (oh * 3600 + om * 60) * (z === 43 ? 1 : -1);
  } else {
    return false;
  }

  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  if (seconds < MIN_UTC_SECONDS || seconds > MAX_UTC_SECONDS) return false;
  out.seconds = seconds;
  out.micros = micros;
  return true;
}
