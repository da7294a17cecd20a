/**
 * The Prometheus text format as the receiver's /metrics writes it, read just far enough to
 * know which series names a query can select.
 */

export interface MetricFamily {
  readonly name: string;
  /** counter, gauge, histogram, summary or untyped (from `# TYPE`). */
  readonly type: string;
  /** Sample lines of the family, suffixed series (`_bucket`, `_sum`, `_count`) included. */
  samples: number;
}

/** Suffixes the text format gives a family's series, by family type. */
const SERIES_SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** The series names of a family: `name` itself, or its suffixed series. */
export function seriesNamesOf(family: MetricFamily): string[] {
  return (SERIES_SUFFIXES[family.type] ?? ['']).map((s) => family.name + s);
}

/** Families by name, each with its type and how many samples it exposed. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const bySeries = new Map<string, MetricFamily>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)\s*$/.exec(line);
    if (type !== null) {
      const family: MetricFamily = { name: type[1] as string, type: type[2] as string, samples: 0 };
      families.set(family.name, family);
      for (const series of seriesNamesOf(family)) bySeries.set(series, family);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name === undefined) continue;
    const family = bySeries.get(name);
    if (family !== undefined) family.samples++;
    else families.set(name, { name, type: 'untyped', samples: 1 });
  }
  return families;
}

/** Every series name a PromQL selector can name in this exposition. */
export function selectableSeriesNames(families: Map<string, MetricFamily>): Set<string> {
  return new Set([...families.values()].flatMap(seriesNamesOf));
}
