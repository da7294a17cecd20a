/**
 * Finds the highest rate a target sustains with zero errors: closed-loop steps of growing
 * connection counts until the rate stops growing for two steps (or errors appear), then a hold of at least
 * 10 s at the best level. The hold is the reported figure; if it shows errors, the next lower
 * level is held instead (once).
 */
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import type { RequestSource } from './request-bodies.js';
import type { Progress } from './progress.js';

export interface StepSummary {
  connections: number;
  eventsPerS: number;
  errors: number;
  p99Ms: number;
}

export interface RampResult {
  steps: StepSummary[];
  level: number;
  hold: LoadResult;
  /** Every load run against the target (steps and holds), for the row audit. */
  runs: LoadResult[];
}

export interface RampSpec {
  label: string;
  url: string;
  levels: readonly number[];
  stepS: number;
  holdS: number;
  /** Builds requests during the steps. */
  stepSource: RequestSource;
  /** Builds (or replays) requests during the hold; called once the level is known. */
  holdSource: (level: number, stepRate: number) => RequestSource;
  trustResponses: boolean;
  progress: Progress;
  /** Around the hold (resource sampling). */
  beforeHold?: () => Promise<void> | void;
  afterHold?: () => Promise<void> | void;
}

/** A step must beat the best so far by this much to count as growth. */
const GROWTH = 1.05;

export async function rampToMax(spec: RampSpec): Promise<RampResult> {
  const steps: StepSummary[] = [];
  const runs: LoadResult[] = [];
  let best: StepSummary | null = null;
  let flat = 0;
  for (const connections of spec.levels) {
    const r = await runLoad(base(spec, connections, spec.stepS, spec.stepSource, `${spec.label} step c=${connections}`));
    runs.push(r);
    const s: StepSummary = { connections, eventsPerS: r.eventsPerS, errors: r.errors, p99Ms: r.latencyMs.p99 };
    steps.push(s);
    if (s.errors > 0) break;
    const grew = best === null || s.eventsPerS >= best.eventsPerS * GROWTH;
    if (best === null || s.eventsPerS > best.eventsPerS) best = s;
    // Two steps in a row without growth: the plateau (one alone may be noise on a shared machine).
    flat = grew ? 0 : flat + 1;
    if (flat === 2) break;
  }
  const candidates = steps.filter((s) => s.errors === 0);
  const chosen = best ?? candidates[0] ?? (steps[0] as StepSummary);
  let level = chosen.connections;

  let hold: LoadResult | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    await spec.beforeHold?.();
    hold = await runLoad(base(spec, level, spec.holdS, spec.holdSource(level, chosen.eventsPerS), `${spec.label} hold c=${level}`));
    await spec.afterHold?.();
    runs.push(hold);
    if (hold.errors === 0) break;
    const lower = [...spec.levels].reverse().find((c) => c < level);
    if (lower === undefined) break;
    level = lower;
  }
  return { steps, level, hold: hold as LoadResult, runs };
}

function base(spec: RampSpec, connections: number, durationS: number, source: RequestSource, label: string): LoadSpec {
  return { label, url: spec.url, connections, durationS, source, trustResponses: spec.trustResponses, progress: spec.progress };
}
