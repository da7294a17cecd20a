import type { RetentionPolicy } from '../retention/index.js';
import type { QueryParams } from './query-params.js';
import { ReadError } from './read-errors.js';
import { parseRfc3339 } from './times.js';

export type BucketUnit = 'minute' | 'hour' | 'day';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const BUCKET_MS: Record<BucketUnit, number> = { minute: MINUTE, hour: HOUR, day: DAY };

const RANGES: Record<string, number> = { '1h': HOUR, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY };
const DEFAULT_RANGE_MS = DAY;
/** Longest explicit window: the hourly and daily rollups' default retention (400 days). */
export const MAX_WINDOW_MS = 400 * DAY;

/** A window as asked for: [fromMs, toMs). */
export interface RequestedWindow {
  fromMs: number;
  toMs: number;
}

/** A window widened to whole buckets, and the bucket size its requested length calls for. */
export interface BucketedWindow extends RequestedWindow {
  unit: BucketUnit;
  bucketMs: number;
}

export const WINDOW_PARAMS = ['range', 'from', 'to'] as const;

/**
 * `range` (1h | 24h | 7d | 30d, ending now) or `from` [+ `to`, default now], RFC 3339.
 * `required` false: no window parameter at all means "no window" (history), returned as null.
 */
export function parseWindow(q: QueryParams, nowMs: number, required: boolean): RequestedWindow | null | ReadError {
  const range = q.get('range');
  const from = q.get('from');
  const to = q.get('to');
  if (range !== undefined) {
    if (from !== undefined || to !== undefined) {
      return new ReadError('invalid_query', `Query parameter '${from !== undefined ? 'from' : 'to'}' cannot be combined with 'range'.`);
    }
    const span = RANGES[range];
    if (span === undefined) return new ReadError('invalid_query', "Query parameter 'range' must be one of 1h, 24h, 7d, 30d.");
    return { fromMs: nowMs - span, toMs: nowMs };
  }
  if (from === undefined) {
    if (to !== undefined) return new ReadError('invalid_query', "Query parameter 'to' needs 'from'.");
    return required ? { fromMs: nowMs - DEFAULT_RANGE_MS, toMs: nowMs } : null;
  }
  const fromMs = parseRfc3339(from);
  if (fromMs === null) return new ReadError('invalid_query', "Query parameter 'from' is not an RFC 3339 time.");
  const toMs = to === undefined ? nowMs : parseRfc3339(to);
  if (toMs === null) return new ReadError('invalid_query', "Query parameter 'to' is not an RFC 3339 time.");
  if (toMs <= fromMs) return new ReadError('invalid_query', "Query parameter 'to' must be later than 'from'.");
  if (toMs - fromMs > MAX_WINDOW_MS) return new ReadError('invalid_query', "Query parameter 'from' is more than 400 days before 'to'.");
  return { fromMs, toMs };
}

/**
 * The bucket follows the requested length (1 minute up to 2 h, 1 hour up to 7 d, 1 day
 * beyond); the window then widens outward to whole UTC buckets, so every bucket in the
 * answer covers its full span and the totals equal the sum of the chart.
 */
export function bucketWindow(w: RequestedWindow): BucketedWindow {
  const span = w.toMs - w.fromMs;
  const unit: BucketUnit = span <= 2 * HOUR ? 'minute' : span <= 7 * DAY ? 'hour' : 'day';
  const bucketMs = BUCKET_MS[unit];
  return {
    fromMs: Math.floor(w.fromMs / bucketMs) * bucketMs,
    toMs: Math.ceil(w.toMs / bucketMs) * bucketMs,
    unit,
    bucketMs,
  };
}

/** How long the bucket tables keep their buckets (docs/read-api.md §7). */
export type RollupRetention = Pick<RetentionPolicy, 'minuteRollupDays' | 'rollupDays'>;

/**
 * A window whose first bucket is older than its bucket table keeps whole would read zeros
 * where data existed, so it is refused rather than answered short: the minute rollups (windows
 * of 2 h or less) are kept `minuteRollupDays`, the hourly and daily ones `rollupDays`. Retention
 * deletes a bucket only once all of it is older than the cutoff, so every bucket from the one
 * holding the cutoff on is complete.
 */
export function checkRetained(requested: RequestedWindow, nowMs: number, retention: RollupRetention): ReadError | null {
  const w = bucketWindow(requested);
  const days = w.unit === 'minute' ? retention.minuteRollupDays : retention.rollupDays;
  const oldestKept = Math.floor((nowMs - days * DAY) / w.bucketMs) * w.bucketMs;
  if (w.fromMs >= oldestKept) return null;
  const what = w.unit === 'minute' ? `minute rollups (windows of 2 h or less) are kept ${days} days` : `hourly and daily rollups are kept ${days} days`;
  return new ReadError('invalid_query', `Query parameter 'from' is older than the data kept: ${what}.`);
}
