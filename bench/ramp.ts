/**
 * Finds the connection count at which a target reaches its highest rate with zero errors:
 * closed-loop steps of growing connection counts until the rate stops growing for two steps
 * in a row (one alone may be noise on a shared machine) past a minimum level, or errors appear. The level is then
 * held (hold.ts) for the reported figure.
 */
import { runLoad, type LoadResult } from './load.js';
import type { Progress } from './progress.js';
import type { RunSource } from './presign.js';

export interface StepSummary {
  connections: number;
  eventsPerS: number;
  errors: number;
  p99Ms: number;
}

export interface RampResult {
  steps: StepSummary[];
  /** The best error-free level, and its rate. */
  level: number;
  rate: number;
  /** Error-free levels within RUNOFF_MARGIN of the best (the best included), in ramp
   *  order: steps are short, so any of them may be the best one held longer. */
  close: number[];
  /** The load runs, for the row audit. */
  runs: LoadResult[];
}

export interface RampSpec {
  label: string;
  url: string;
  levels: readonly number[];
  /** Steps always run up to this many connections, however flat the rate is below it. */
  minStopLevel: number;
  stepS: number;
  /** The requests of one step of `durationS` seconds. */
  source: (durationS: number) => RunSource;
  trustResponses: boolean;
  progress: Progress;
}

/** A step must beat the best so far by this much to count as growth. */
const GROWTH = 1.05;
/**
 * Levels whose step came within this of the best get a longer run each before one is held.
 * Short steps on a shared machine swing by more than GROWTH (a step can read 28k between
 * neighbours of 49k and 42k), so the best step alone is often not the best level.
 */
const RUNOFF_MARGIN = 1.15;

export async function rampUp(spec: RampSpec): Promise<RampResult> {
  const steps: StepSummary[] = [];
  const runs: LoadResult[] = [];
  let best: StepSummary | null = null;
  let flat = 0;
  for (const connections of spec.levels) {
    const source = spec.source(spec.stepS);
    const r = await runLoad({
      label: `${spec.label} step c=${connections}`,
      url: spec.url,
      connections,
      durationS: spec.stepS,
      source,
      trustResponses: spec.trustResponses,
      progress: spec.progress,
    });
    source.done(r);
    runs.push(r);
    const s: StepSummary = { connections, eventsPerS: r.eventsPerS, errors: r.errors, p99Ms: r.latencyMs.p99 };
    steps.push(s);
    if (s.errors > 0) break;
    const grew = best === null || s.eventsPerS >= best.eventsPerS * GROWTH;
    if (best === null || s.eventsPerS > best.eventsPerS) best = s;
    flat = grew ? 0 : flat + 1;
    if (flat >= 2 && connections >= spec.minStopLevel) break;
  }
  // Errors at the very first level: hold it anyway, the hold reports the errors.
  const chosen = best ?? (steps[0] as StepSummary);
  const close = steps.filter((s) => s.errors === 0 && s.eventsPerS * RUNOFF_MARGIN >= chosen.eventsPerS).map((s) => s.connections);
  return { steps, level: chosen.connections, rate: chosen.eventsPerS, close: close.length > 0 ? close : [chosen.connections], runs };
}

/** The next lower level of the ramp, for a hold that showed errors. */
export function lowerLevel(levels: readonly number[], level: number): number | null {
  return [...levels].reverse().find((c) => c < level) ?? null;
}
