/**
 * What one run of the suite records (bench/results/<timestamp>.json, and latest.json), and
 * how the previous run is found for comparison.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CopyCeiling, VerifyCeiling } from '../native-bench/index.js';
import type { PinMode } from './affinity.js';
import type { LoadResult } from './load.js';
import type { CpuSplit } from './proc-sampler.js';
import type { StepSummary } from './ramp.js';
import type { AuditResult } from './row-audit.js';
import type { VisibilityResult } from './visibility-probe.js';
import type { CommitFloor } from './commit-probe.js';
import type { PresignStats } from './presign.js';
import type { ReadScenario } from './scenarios/read.js';
import type { StreamScenarioResult } from './scenarios/stream.js';

export const SCHEMA_VERSION = 1;

/** One number of the report, with what bounds it and the goal it is held to. */
export interface Figure {
  id: string;
  scenario: string;
  label: string;
  value: number;
  unit: string;
  better: 'higher' | 'lower';
  /** Ceilings (throughput: value ÷ ceiling ≤ 1) or floors (latency: value ÷ floor ≥ 1), measured in this run. */
  bounds: { label: string; value: number; ratio: number }[];
  goals: { text: string; met: boolean }[];
  previous: number | null;
}

/** One hold of a server, in short (the median hold is kept in full). */
export interface HoldSummary {
  connections: number;
  eventsPerS: number;
  storedPerS: number | null;
  sustainedPerS: number;
  errors: number;
  p99Ms: number;
  spoolAppends: number | null;
  cpu: CpuSplit;
}

export interface ServerRun {
  ramp: StepSummary[];
  /** Longer runs at the ramp levels within noise of its best (absent in older records). */
  runoff?: { connections: number; eventsPerS: number }[];
  level: number;
  /** Every hold, in the order run (receiver and peer holds alternate). */
  holds: HoldSummary[];
  /** The median hold (by sustained rate; the lower middle one for an even count), in full. */
  hold: LoadResult;
  /** Rows of the scenario's agents that reached PostgreSQL during the median hold. */
  storedDuringHold: { rows: number; seconds: number; perS: number } | null;
  /** Batches the receiver acknowledged through its local spool during the median hold, and still spooled after it. */
  spool: { appendsDuringHold: number; recordsAfterHold: number } | null;
  /** The figure: the median hold's acknowledged per second, but no more than reached PostgreSQL per second. */
  sustainedPerS: number;
  rss: { maxMiB: number; medianMiB: number; samples: number } | null;
  /** CPU split of the median hold. */
  cpu: CpuSplit | null;
  top: string;
  audit: AuditResult | null;
}

export interface ThroughputScenario {
  placement: PinMode;
  eventsPerRequest: number;
  receiver: ServerRun;
  peer: ServerRun | null;
  httpCeiling: LoadResult | null;
  /** Requests signed before each run and replayed, and how many had to be built live; null in
   *  records of `max` from before it was replayed too. */
  presigned: PresignStats | null;
  /** 'all': every run (ramp steps, runoffs, holds) replayed presigned requests; absent in
   *  records from before the ramp was presigned, when only the holds did. */
  presignedRuns?: 'all';
}

export interface TargetRun {
  load: LoadResult;
  visibility: VisibilityResult | null;
  audit: AuditResult | null;
  /** One-row commits on the same PostgreSQL during the run (absent in runs before it was measured). */
  commitFloor?: CommitFloor | null;
}

export interface TargetScenario {
  placement: PinMode;
  ratePerS: number;
  connections: number;
  receiver: TargetRun;
  peer: TargetRun | null;
  httpCeiling: TargetRun | null;
}

export interface MixScenario {
  placement: PinMode;
  connections: number;
  receiver: { load: LoadResult; audit: AuditResult | null };
  httpCeiling: LoadResult | null;
}

/** native-bench/results/codec-decode.json as codec-decode.ts writes it. */
export interface CodecDecodeFile {
  date: string;
  bodyBytes: { json: number; msgpack: number };
  results: Record<string, { eventsPerSec: number; usPerRequest: number }>;
}

/** native-bench/results/ring-handoff.json as ring-handoff.ts writes it. */
export interface RingHandoffFile {
  date: string;
  count: number;
  size: number;
  batch: number;
  results: Record<string, { opsPerSec: number; mbPerSec: number }>;
}

export interface PlacementCeilings {
  copy: CopyCeiling | null;
  verifySingle: VerifyCeiling | null;
}

export interface RunRecord {
  schema: number;
  id: string;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  quick: boolean;
  options: Record<string, unknown>;
  machine: {
    cpus: number;
    model: string;
    node: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
    taskset: boolean;
    git: string;
  };
  postgres: Record<string, string>;
  receiver: { workers: number; env: Record<string, string> };
  ceilings: {
    codec: CodecDecodeFile | null;
    ring: RingHandoffFile | null;
    byPlacement: Partial<Record<PinMode, PlacementCeilings>>;
  };
  scenarios: {
    /** In the target placement (`--target-pin`): the goal figures. */
    target?: TargetScenario;
    /** The same in the other placement (`--compare`). */
    targetCompare?: TargetScenario;
    max?: Partial<Record<PinMode, ThroughputScenario>>;
    perPacketSigned?: Partial<Record<PinMode, ThroughputScenario>>;
    mix?: MixScenario;
    /** The read API on a month of history (bench/scenarios/read.ts). */
    read?: ReadScenario;
    /** Ingest with and without open subscribers, and committed → delivered latency (bench/scenarios/stream.ts). */
    stream?: StreamScenarioResult;
  };
  figures: Figure[];
  problems: string[];
}

/** The newest earlier run of the same kind (quick or full), else the newest of any kind. */
export function findPrevious(dir: string, quick: boolean, excludeId?: string): RunRecord | null {
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir)
    .filter((f) => /^\d{8}T\d{6}Z?\.json$/.test(f) && f !== `${excludeId}.json`)
    .sort()
    .reverse();
  let fallback: RunRecord | null = null;
  for (const f of files) {
    const rec = readRecord(join(dir, f));
    if (rec === null) continue;
    if (rec.quick === quick) return rec;
    fallback ??= rec;
  }
  return fallback;
}

export function readRecord(path: string): RunRecord | null {
  try {
    const rec = JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
    return rec.schema === SCHEMA_VERSION ? rec : null;
  } catch {
    return null;
  }
}

export function saveRecord(dir: string, rec: RunRecord): string {
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(rec, null, 1) + '\n';
  const file = join(dir, `${rec.id}.json`);
  writeFileSync(file, text);
  writeFileSync(join(dir, 'latest.json'), text);
  return file;
}

/** 20260131T120000Z: sortable, and a valid file name everywhere. */
export function runId(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
