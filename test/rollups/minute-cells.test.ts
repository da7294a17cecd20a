/**
 * The record() path and the rows it becomes, without services: per-key cells, refusals that
 * leave no trace, clamping, exact spend (split over rows past UInt64), and hour deltas.
 */
import { describe, expect, it } from 'vitest';
import { clickhouseDateTime, clickhouseRows, fitsDateTime } from '../../src/rollups/clickhouse-rows.js';
import { HourDeltas } from '../../src/rollups/hour-deltas.js';
import { decodeHistogram, HIGHEST_LATENCY_MS, newLatencyHistogram, type LatencyHistogram } from '../../src/rollups/latency-histogram.js';
import { MinuteCells, recordLatencies, type MinuteCell } from '../../src/rollups/minute-cells.js';
import { agentGroup, gatewayGroup, HOUR, MINUTE } from './support.js';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0);

/** The cell's latencies in a histogram, as a flush records them. */
function histogramOf(cell: MinuteCell): LatencyHistogram {
  const h = newLatencyHistogram();
  recordLatencies(h, cell.latencies);
  return h;
}
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

describe('MinuteCells', () => {
  it('keys by kind, minute, tenant, entity and vendor, and adds groups of one key together', () => {
    const cells = new MinuteCells();
    cells.add(agentGroup('a1', 'v1', T0, [10, 20], { failures: 1, spend: 5n }), 1);
    cells.add(agentGroup('a1', 'v1', T0, [30], { spend: 7n }), 2);
    cells.add(agentGroup('a1', 'v2', T0, [1]), 3);
    cells.add(agentGroup('a1', 'v1', T0 + MINUTE, [1]), 4);
    cells.add(gatewayGroup('t1', 'a1', 'v1', T0, [1]), 5);
    cells.add(gatewayGroup('t2', 'a1', 'v1', T0, [1]), 6);
    expect(cells.size).toBe(5);
    const sealed = cells.seal();
    expect(cells.size).toBe(0);
    const first = sealed.find((c) => c.kind === 'agent' && c.vendorId === 'v1' && c.minute === T0);
    expect(first).toMatchObject({ requests: 3, successes: 2, failures: 1, spend: 12n, latencySum: 60, maxLatency: 30, openedAt: 1, latencies: [[10, 20], [30]] });
    expect(histogramOf(first!).totalCount).toBe(3);
  });

  it('refuses groups whose numbers do not add up, leaving no partial trace', () => {
    const cells = new MinuteCells();
    expect(cells.add({ ...agentGroup('a', 'v', T0, [1, 2]), requests: 3 }, 0)).toBe('invalid');
    expect(cells.add({ ...agentGroup('a', 'v', T0, [1, 2]), successes: 5 }, 0)).toBe('invalid');
    expect(cells.add({ ...agentGroup('a', 'v', T0, [1]), spendAtomic: -1n }, 0)).toBe('invalid');
    expect(cells.add(agentGroup('a', 'v', T0, [1, Number.NaN]), 0)).toBe('invalid');
    expect(cells.add(agentGroup('a', 'v', T0, [1, -5]), 0)).toBe('invalid');
    expect(cells.size).toBe(0);
  });

  it('clamps latencies above one hour in the histogram but keeps the exact max and sum', () => {
    const cells = new MinuteCells();
    cells.add(agentGroup('a', 'v', T0, [5, 2_000_000_000]), 0);
    const [cell] = cells.seal();
    expect(cells.clamped).toBe(1);
    expect(cell?.maxLatency).toBe(2_000_000_000);
    expect(cell?.latencySum).toBe(2_000_000_005);
    expect(histogramOf(cell!).maxValue).toBeLessThanOrEqual(HIGHEST_LATENCY_MS + HIGHEST_LATENCY_MS / 1024);
  });
});

describe('ClickHouse rows', () => {
  let seq = 0;
  const nextId = (): string => `r${seq++}`;

  it('holds a spend near the int64 maximum exactly, as a decimal string', () => {
    const cells = new MinuteCells();
    cells.add(agentGroup('a', 'v', T0, [1], { spend: INT64_MAX }), 0);
    cells.add(agentGroup('a', 'v', T0, [2], { spend: INT64_MAX - 1n }), 0);
    const [cell] = cells.seal();
    const rows = clickhouseRows(cell!, histogramOf(cell!), nextId, 'rx', clickhouseDateTime(T0));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.spend_atomic).toBe((2n * INT64_MAX - 1n).toString());
  });

  it('splits a spend above 2^64 − 1 over extra rows that carry no requests and sum exactly', () => {
    const cells = new MinuteCells();
    for (let i = 0; i < 5; i++) cells.add(agentGroup('a', 'v', T0, [i], { spend: INT64_MAX }), 0);
    const [cell] = cells.seal();
    const rows = clickhouseRows(cell!, histogramOf(cell!), nextId, 'rx', clickhouseDateTime(T0));
    expect(rows.length).toBe(3);
    expect(rows.reduce((s, r) => s + BigInt(r.spend_atomic), 0n)).toBe(5n * INT64_MAX);
    for (const r of rows) expect(BigInt(r.spend_atomic)).toBeLessThanOrEqual(UINT64_MAX);
    expect(rows.reduce((s, r) => s + r.requests, 0)).toBe(5);
    expect(new Set(rows.map((r) => r.row_id)).size).toBe(3);
    for (const r of rows.slice(1)) expect(decodeHistogram(r.latency_hdr).totalCount).toBe(0);
  });

  it('describes its own histogram: percentiles, buckets and the encoding agree', () => {
    const cells = new MinuteCells();
    cells.add(agentGroup('a', 'v', T0 + 5 * MINUTE, [10, 10, 20, 5000], { failures: 1 }), 0);
    const [cell] = cells.seal();
    const [row] = clickhouseRows(cell!, histogramOf(cell!), nextId, 'rx', '2025-01-31 12:06:00');
    expect(row).toMatchObject({
      minute: '2025-01-31 12:05:00',
      kind: 'agent',
      tenant_id: '',
      entity_id: 'a',
      vendor_id: 'v',
      requests: 4,
      successes: 3,
      failures: 1,
      latency_sum_ms: 5040,
      latency_p50_ms: 10,
      latency_max_ms: 5000,
      latency_values: [10, 20, 5003],
      latency_counts: [2, 1, 1],
    });
    expect(decodeHistogram(row!.latency_hdr).totalCount).toBe(4);
  });

  it('knows which minutes DateTime can hold', () => {
    expect(fitsDateTime(T0)).toBe(true);
    expect(fitsDateTime(Date.UTC(1969, 11, 31, 23, 59))).toBe(false);
    expect(fitsDateTime(Date.UTC(2200, 0, 1))).toBe(false);
  });
});

describe('HourDeltas', () => {
  it('folds minute cells into (hour, entity) rows with per-vendor tallies', () => {
    const cells = new MinuteCells();
    cells.add(agentGroup('a', 'v1', T0, [1, 2]), 10);
    cells.add(agentGroup('a', 'v1', T0 + 59 * MINUTE, [3]), 5);
    cells.add(agentGroup('a', 'v2', T0 + 30 * MINUTE, [4]), 20);
    cells.add(agentGroup('a', 'v1', T0 + HOUR, [5]), 1);
    const hours = new HourDeltas();
    for (const c of cells.seal()) hours.addCell(c);
    expect(hours.size).toBe(2);
    const [first, second] = hours.sorted();
    expect(first?.bucket).toBe(T0);
    expect(first?.oldestOpenedAt).toBe(5);
    expect(first?.vendors.get('v1')).toMatchObject({ requests: 3, latencySum: 6, maxLatency: 3, rawCount: 3, histogram: null });
    expect(first?.vendors.get('v2')?.requests).toBe(1);
    expect(second?.bucket).toBe(T0 + HOUR);
  });

  it('folds raw latencies into a histogram once a tally holds many, so a waiting delta stays bounded', () => {
    const hours = new HourDeltas();
    for (let flush = 0; flush < 6; flush++) {
      const cells = new MinuteCells();
      cells.add(agentGroup('a', 'v', T0 + flush * MINUTE, Array.from({ length: 1000 }, (_, i) => i + flush)), 0);
      const more = new HourDeltas();
      for (const c of cells.seal()) more.addCell(c);
      for (const d of more.byKey.values()) hours.addDelta(d);
    }
    const t = hours.sorted()[0]?.vendors.get('v');
    expect(t?.requests).toBe(6000);
    expect((t?.histogram?.totalCount ?? 0) + (t?.rawCount ?? 0)).toBe(6000);
    expect(t?.histogram).not.toBeNull();
    expect(t?.rawCount).toBeLessThanOrEqual(4096);
  });
});
