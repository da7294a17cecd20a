/**
 * The event-time window of docs/protocol.md §2: an event's time (a telemetry report's
 * `period_end`) must lie between `maxAgeMs` before and `maxFutureMs` after the receiver's
 * clock, both ends included. Without it a producer could write rows for year 0001 or 9999,
 * which land in the default partition, or outlive retention the moment they are written.
 *
 * Bounds are kept as (seconds, microseconds) like the instants they are compared with, so
 * the comparison is exact at the microsecond a row is stored with.
 */
import type { UtcInstant } from '../rfc3339.js';

export interface EventTimeLimits {
  /** How far before the receiver's clock an event's time may lie (ms). */
  maxAgeMs: number;
  /** How far after the receiver's clock an event's time may lie (ms). */
  maxFutureMs: number;
}

/** docs/protocol.md §2: 35 days before, 5 minutes after. */
export const DEFAULT_EVENT_TIME_LIMITS: Readonly<EventTimeLimits> = Object.freeze({ maxAgeMs: 35 * 86_400_000, maxFutureMs: 5 * 60_000 });

/** The window at one moment of the receiver's clock; move it with setEventTimeWindow. */
export interface EventTimeWindow {
  readonly limits: EventTimeLimits;
  earliestMs: number;
  latestMs: number;
  earliest: UtcInstant;
  latest: UtcInstant;
}

export function newEventTimeWindow(limits: EventTimeLimits, nowMs: number): EventTimeWindow {
  const w: EventTimeWindow = { limits, earliestMs: 0, latestMs: 0, earliest: { seconds: 0, micros: 0 }, latest: { seconds: 0, micros: 0 } };
  setEventTimeWindow(w, nowMs);
  return w;
}

/** Centres the window on `nowMs` (the receiver's clock, integer milliseconds). */
export function setEventTimeWindow(w: EventTimeWindow, nowMs: number): void {
  w.earliestMs = nowMs - w.limits.maxAgeMs;
  w.latestMs = nowMs + w.limits.maxFutureMs;
  toInstant(w.earliestMs, w.earliest);
  toInstant(w.latestMs, w.latest);
}

function toInstant(ms: number, out: UtcInstant): void {
  const seconds = Math.floor(ms / 1000);
  out.seconds = seconds;
  out.micros = (ms - seconds * 1000) * 1000;
}

function before(aS: number, aUs: number, b: UtcInstant): boolean {
  return aS < b.seconds || (aS === b.seconds && aUs < b.micros);
}

function after(aS: number, aUs: number, b: UtcInstant): boolean {
  return aS > b.seconds || (aS === b.seconds && aUs > b.micros);
}

/** Null when the instant lies inside the window, else the rejection message naming `field`. */
export function eventTimeProblem(w: EventTimeWindow, seconds: number, micros: number, field: string): string | null {
  if (!before(seconds, micros, w.earliest) && !after(seconds, micros, w.latest)) return null;
  return (
    `${field}: must lie between ${duration(w.limits.maxAgeMs)} before and ${duration(w.limits.maxFutureMs)} after the receiver's clock ` +
    `(${new Date(w.earliestMs).toISOString()} to ${new Date(w.latestMs).toISOString()})`
  );
}

/** `35 days`, `5 minutes`, `90 seconds`: the largest unit that divides the duration. */
function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
}
