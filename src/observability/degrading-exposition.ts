import { Counter, type Registry } from 'prom-client';

/**
 * Renders a registry's exposition text one metric at a time, so that /metrics always
 * answers: a metric whose collector throws, rejects or takes longer than `collectTimeoutMs`
 * (a query to a PostgreSQL that is down or silent) is served with the text it had at the
 * last scrape that rendered it (or left out if none did), and counted in
 * `machpay_metrics_collect_failures_total{source}`. prom-client's own `registry.metrics()`
 * rejects as a whole when any one collector does, which made the route answer 500.
 */
export class DegradingExposition {
  private readonly lastGood = new Map<string, string>();
  private readonly failures: Counter<'source'>;

  constructor(
    private readonly registry: Registry,
    private readonly collectTimeoutMs: number,
  ) {
    this.failures = new Counter({
      name: 'machpay_metrics_collect_failures_total',
      help: 'Scrape-time failures, by source: a metric whose collector failed or timed out, or a component that could not be sampled (its values stay as they were).',
      labelNames: ['source'] as const,
      registers: [registry],
    });
  }

  /**
   * Counts a failure found outside the collectors (a component that failed to be sampled);
   * `by` 0 exports the series, so that "no failures" reads 0 rather than nothing.
   */
  countFailure(component: string, by = 1): void {
    this.failures.inc({ source: component }, by);
  }

  async render(): Promise<string> {
    const own = this.failuresName();
    const names = this.registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => n !== own);
    const texts = await Promise.all(names.map((n) => this.renderOne(n)));
    // Last, so that it includes the failures of this very scrape.
    texts.push(await this.registry.getSingleMetricAsString(own));
    return `${texts.filter((t): t is string => t !== null).join('\n\n')}\n`;
  }

  private failuresName(): string {
    return (this.failures as unknown as { name: string }).name;
  }

  private async renderOne(name: string): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`collector of ${name} took over ${this.collectTimeoutMs} ms`)), this.collectTimeoutMs);
    });
    try {
      const text = await Promise.race([this.registry.getSingleMetricAsString(name), timeout]);
      this.lastGood.set(name, text);
      return text;
    } catch {
      this.failures.inc({ source: name });
      return this.lastGood.get(name) ?? null;
    } finally {
      clearTimeout(timer);
    }
  }
}
