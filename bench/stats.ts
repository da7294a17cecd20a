/** Percentiles and medians over raw samples (runs record every latency: at most a few hundred thousand). */

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** A growable Float64Array: one allocation per doubling, no boxing per sample. */
export class SampleBuffer {
  private data = new Float64Array(1024);
  private n = 0;

  push(v: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = v;
  }

  get length(): number {
    return this.n;
  }

  percentiles(): Percentiles {
    return percentilesOf(this.data.subarray(0, this.n));
  }
}

/** Nearest-rank percentiles; `values` is copied before sorting. */
export function percentilesOf(values: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => {
    if (sorted.length === 0) return 0;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[rank] as number;
  };
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Percentiles to hundredths of their unit, as results record them. */
export function roundPercentiles(p: Percentiles): Percentiles {
  return { count: p.count, p50: round(p.p50, 2), p90: round(p.p90, 2), p99: round(p.p99, 2), p999: round(p.p999, 2), max: round(p.max, 2) };
}
