import { randomBytes } from 'node:crypto';
import { clickhouseDateTime, clickhouseRows, fitsDateTime, type ClickhouseRow } from './clickhouse-rows.js';
import type { FoldCell } from './fold-cells.js';
import { decodeHistogram, newLatencyHistogram } from './latency-histogram.js';
import { recordLatencies } from './minute-cells.js';

/**
 * The rollup_minute delta rows of one fold: one per minute cell (more for a spend past
 * 2^64 − 1, clickhouse-rows.ts), with row_ids made once here and stored with the rows, so
 * every resend of them collapses under FINAL. Minutes ClickHouse's DateTime cannot hold are
 * left out (counted in `skipped`), as the in-memory path does.
 */
export class ClickhouseFoldRows {
  skipped = 0;
  /** One histogram reused for every cell (reset between cells). */
  private readonly scratch = newLatencyHistogram();

  constructor(private readonly receiverId: string) {}

  build(cells: readonly FoldCell[]): ClickhouseRow[] {
    const foldId = randomBytes(8).toString('hex');
    let seq = 0;
    const nextRowId = (): string => `${foldId}-${(seq++).toString(36)}`;
    const foldedAt = clickhouseDateTime(Date.now());
    const out: ClickhouseRow[] = [];
    for (const c of cells) {
      if (!fitsDateTime(c.bucket)) {
        this.skipped++;
        continue;
      }
      const h = this.scratch;
      h.reset();
      recordLatencies(h, c.latencies);
      for (const e of c.histograms) {
        try {
          h.add(decodeHistogram(e));
        } catch {
          // Counted by the bucket merger, which met the same encoding first.
        }
      }
      const cell = {
        kind: c.kind,
        minute: c.bucket,
        tenantId: c.tenantId,
        entity: c.entity,
        vendorId: c.vendorId,
        requests: c.requests,
        successes: c.successes,
        failures: c.failures,
        spend: c.spend,
        latencySum: c.latencySum,
        maxLatency: c.maxLatency ?? 0,
        latencies: c.latencies,
        openedAt: c.oldestCreatedMs,
        // The same sums fold-round.ts adds to gateway_stats_minute / _hourly / _daily.
        status2xx: c.status2xx,
        status3xx: c.status3xx,
        status4xx: c.status4xx,
        status5xx: c.status5xx,
        paymentsVerified: c.paymentsVerified,
      };
      for (const row of clickhouseRows(cell, h, nextRowId, this.receiverId, foldedAt)) out.push(row);
    }
    return out;
  }
}
