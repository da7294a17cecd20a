import { INT64_MAX } from './int64.js';

/**
 * Per-vendor statistics of one telemetry period (docs/protocol.md §5, `interactions`),
 * computed by the SDK from the interactions it records.
 *
 * Latency percentiles use the nearest-rank definition (the value at rank ⌈p·n⌉ of the
 * sorted latencies). They are exact while a vendor has at most `latencySampleSize`
 * interactions in the period; past that, a uniform reservoir sample of that size stands
 * in for the whole period, so memory stays bounded whatever the rate.
 */

export interface VendorPeriodStats {
  readonly attempts: number;
  readonly success: number;
  readonly failures: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Sum of `amountAtomic` over successful interactions, saturating at int64 max. */
  readonly spendAtomic: bigint;
  /** Failures by `errorType` ("unknown" when none was given, "other" past maxErrorTypes). */
  readonly errors: Readonly<Record<string, number>>;
}

export interface StatsWindowLimits {
  /** Distinct vendors tracked per period; interactions with more are counted in `overflowedInteractions`. */
  readonly maxVendors: number;
  /** Latencies kept per vendor per period for the percentiles. */
  readonly latencySampleSize: number;
  /** Distinct error types kept per vendor per period. */
  readonly maxErrorTypes: number;
}

export interface DrainedPeriod {
  readonly vendors: ReadonlyMap<string, VendorPeriodStats>;
  /** Interactions not in `vendors` because maxVendors was reached. */
  readonly overflowedInteractions: number;
}

/** The value of nearest rank ⌈percent/100 · n⌉ in an ascending array; 0 when empty. */
export function nearestRankPercentile(sorted: ArrayLike<number>, percent: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  // Integer numerator so that e.g. 99·300/100 is exactly 297, not 297.00000000000006.
  const rank = Math.min(n, Math.max(1, Math.ceil((n * percent) / 100)));
  return sorted[rank - 1] as number;
}

class LatencySample {
  private readonly values: number[] = [];
  private seen = 0;

  constructor(private readonly capacity: number) {}

  add(ms: number, random: () => number): void {
    this.seen++;
    if (this.values.length < this.capacity) {
      this.values.push(ms);
      return;
    }
    // Algorithm R: the new value replaces a random slot with probability capacity/seen.
    const j = Math.floor(random() * this.seen);
    if (j < this.capacity) this.values[j] = ms;
  }

  percentiles(): [p50: number, p99: number] {
    const sorted = Float64Array.from(this.values).sort();
    return [nearestRankPercentile(sorted, 50), nearestRankPercentile(sorted, 99)];
  }
}

class VendorAccumulator {
  attempts = 0;
  success = 0;
  spend = 0n;
  readonly errors = new Map<string, number>();
  readonly latencies: LatencySample;

  constructor(sampleSize: number) {
    this.latencies = new LatencySample(sampleSize);
  }
}

export class VendorStatsWindow {
  private vendors = new Map<string, VendorAccumulator>();
  private overflowed = 0;

  constructor(
    private readonly limits: StatsWindowLimits,
    private readonly random: () => number = Math.random,
  ) {}

  get vendorCount(): number {
    return this.vendors.size;
  }

  get interactionCount(): number {
    let n = this.overflowed;
    for (const v of this.vendors.values()) n += v.attempts;
    return n;
  }

  record(vendorId: string, success: boolean, latencyMs: number, amountAtomic: bigint | null, errorType: string | null): void {
    let acc = this.vendors.get(vendorId);
    if (acc === undefined) {
      if (this.vendors.size >= this.limits.maxVendors) {
        this.overflowed++;
        return;
      }
      acc = new VendorAccumulator(this.limits.latencySampleSize);
      this.vendors.set(vendorId, acc);
    }
    acc.attempts++;
    acc.latencies.add(latencyMs, this.random);
    if (success) {
      acc.success++;
      if (amountAtomic !== null) {
        const total = acc.spend + amountAtomic;
        acc.spend = total > INT64_MAX ? INT64_MAX : total;
      }
    } else {
      let type = errorType ?? 'unknown';
      if (!acc.errors.has(type) && acc.errors.size >= this.limits.maxErrorTypes) type = 'other';
      acc.errors.set(type, (acc.errors.get(type) ?? 0) + 1);
    }
  }

  /** Returns the period's statistics and starts an empty period. */
  drain(): DrainedPeriod {
    const out = new Map<string, VendorPeriodStats>();
    for (const [vendorId, acc] of this.vendors) {
      const [p50, p99] = acc.latencies.percentiles();
      const errors: Record<string, number> = {};
      for (const [type, n] of acc.errors) errors[type] = n;
      out.set(vendorId, {
        attempts: acc.attempts,
        success: acc.success,
        failures: acc.attempts - acc.success,
        latencyP50Ms: p50,
        latencyP99Ms: p99,
        spendAtomic: acc.spend,
        errors,
      });
    }
    const drained: DrainedPeriod = { vendors: out, overflowedInteractions: this.overflowed };
    this.vendors = new Map();
    this.overflowed = 0;
    return drained;
  }
}
