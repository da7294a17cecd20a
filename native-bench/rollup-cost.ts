/**
 * What the rollups cost the receiver's main thread at a given ingest rate: record() per COPY
 * batch, and per flush the encoding (ClickHouse rows, hour deltas) and the JS side of the
 * PostgreSQL merge (decode stored histograms, merge, encode). I/O is left out: it waits,
 * it does not burn this thread.
 *
 *   node dist/native-bench/rollup-cost.js [--rate=40000] [--seconds=60] [--agents=500]
 *        [--vendors=3] [--batches=25] [--flush-ms=5000] [--postgres-every=1]
 *        [--results=native-bench/results/rollup-cost.json] [--no-save]
 *
 * Ceilings, measured in the same run on the same latencies: the bare HDR recordValue loop
 * into one histogram (what recording costs with no keys at all), and a plain loop over the
 * values. Each figure is the median of three rounds; the previous run's, kept as JSON, is
 * printed beside it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { clickhouseDateTime, clickhouseRows } from '../src/rollups/clickhouse-rows.js';
import { HourDeltas } from '../src/rollups/hour-deltas.js';
import { HourRowMerger, type StoredHourRow } from '../src/rollups/hourly-row-merge.js';
import { newLatencyHistogram } from '../src/rollups/latency-histogram.js';
import { MinuteCells, recordLatencies } from '../src/rollups/minute-cells.js';
import type { RollupGroup } from '../src/rollups/index.js';

const ROUNDS = 3;

interface Figures {
  /** CPU ms per second of traffic. */
  recordMsPerSec: number;
  encodeMsPerSec: number;
  postgresMergeMsPerSec: number;
  clickhouseJsonMsPerSec: number;
  totalMsPerSec: number;
  /** Largest single flush (encode + merge + JSON), ms: the service cuts it into 5 ms slices. */
  worstFlushMs: number;
  /** The ceilings. */
  bareHdrMsPerSec: number;
  plainLoopMsPerSec: number;
  rowsPerFlush: number;
  hourRowsPerFlush: number;
}

interface ResultsFile {
  date: string;
  node: string;
  params: Record<string, number>;
  figures: Figures;
}

/** xorshift32: the same latencies every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** One COPY batch's groups: rows spread over (agent, vendor) keys, long-tailed latencies. */
function buildBatches(p: { rate: number; seconds: number; agents: number; vendors: number; batches: number }): { batches: RollupGroup[][]; latencies: Float64Array } {
  const next = rng(42);
  const perBatch = Math.round(p.rate / p.batches);
  const count = p.seconds * p.batches;
  // Starts half a minute in, so the run crosses a minute boundary as real traffic does.
  const t0 = Date.UTC(2026, 0, 1, 12, 0, 30);
  const all = new Float64Array(perBatch * count);
  let k = 0;
  const batches: RollupGroup[][] = [];
  for (let b = 0; b < count; b++) {
    const minute = Math.floor((t0 + (b / p.batches) * 1000) / 60_000) * 60_000;
    const groups = new Map<string, RollupGroup>();
    for (let i = 0; i < perBatch; i++) {
      const agent = Math.floor(next() * p.agents);
      const vendor = Math.floor(next() * p.vendors);
      const key = `${agent}|${vendor}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { kind: 'agent', minute, entity: `agent-${agent}`, vendorId: `vendor-${vendor}`, tenantId: '', requests: 0, successes: 0, failures: 0, spendAtomic: 0n, latencies: [] };
        groups.set(key, g);
      }
      const latency = Math.floor(Math.exp(next() * 9));
      g.latencies.push(latency);
      all[k++] = latency;
      g.requests++;
      if (next() < 0.95) g.successes++;
      else g.failures++;
      g.spendAtomic += 1000n;
    }
    batches.push([...groups.values()]);
  }
  return { batches, latencies: all };
}

function runRollups(batches: RollupGroup[][], batchesPerFlush: number, postgresEvery: number): Omit<Figures, 'bareHdrMsPerSec' | 'plainLoopMsPerSec' | 'totalMsPerSec'> & { seconds: number } {
  const cells = new MinuteCells();
  const stored = new Map<string, StoredHourRow>();
  const merger = new HourRowMerger();
  // Deltas of the flushes that skip PostgreSQL coalesce here, as in PostgresHourlyWriter.
  let pending = new HourDeltas();
  const scratch = newLatencyHistogram();
  let record = 0;
  let encode = 0;
  let merge = 0;
  let json = 0;
  let worst = 0;
  let rows = 0;
  let hourRows = 0;
  let flushes = 0;
  let seq = 0;
  const flush = (): void => {
    const f0 = performance.now();
    const sealed = cells.seal();
    const hours = new HourDeltas();
    const out = [];
    const flushedAt = clickhouseDateTime(Date.now());
    for (const cell of sealed) {
      scratch.reset();
      recordLatencies(scratch, cell.latencies);
      for (const r of clickhouseRows(cell, scratch, () => `r${seq++}`, 'bench', flushedAt)) out.push(r);
      hours.addCell(cell);
    }
    for (const d of hours.byKey.values()) pending.addDelta(d);
    const f1 = performance.now();
    const due = (flushes + 1) % postgresEvery === 0 || last;
    for (const d of due ? pending.sorted() : []) {
      const key = `${d.bucket}|${d.entity}`;
      const m = merger.merge(stored.get(key), d);
      // What the next flush will read back under FOR UPDATE.
      stored.set(key, {
        total_requests: m.totalRequests,
        successful_requests: m.successfulRequests,
        failed_requests: m.failedRequests,
        total_spend_atomic: m.totalSpendAtomic,
        latency_sum_ms: m.latencySumMs,
        max_latency_ms: m.maxLatencyMs,
        latency_histogram: m.latencyHistogram,
        vendor_breakdown: m.vendorBreakdown,
      });
    }
    const f2 = performance.now();
    // What @clickhouse/client does with JSONEachRow values.
    let bytes = 0;
    for (const r of out) bytes += JSON.stringify(r).length;
    const f3 = performance.now();
    if (bytes === 0 && out.length > 0) throw new Error('nothing serialised');
    if (due) {
      hourRows += pending.size;
      pending = new HourDeltas();
    }
    encode += f1 - f0;
    merge += f2 - f1;
    json += f3 - f2;
    worst = Math.max(worst, f3 - f0);
    rows += out.length;
    flushes++;
  };
  let last = false;
  for (let b = 0; b < batches.length; b++) {
    const t = performance.now();
    for (const g of batches[b] as RollupGroup[]) cells.add(g, 0);
    record += performance.now() - t;
    if ((b + 1) % batchesPerFlush === 0) flush();
  }
  last = true;
  flush();
  return { recordMsPerSec: record, encodeMsPerSec: encode, postgresMergeMsPerSec: merge, clickhouseJsonMsPerSec: json, worstFlushMs: worst, rowsPerFlush: rows / flushes, hourRowsPerFlush: hourRows / flushes, seconds: 0 };
}

function bareHdr(latencies: Float64Array): number {
  const h = newLatencyHistogram();
  const t = performance.now();
  for (let i = 0; i < latencies.length; i++) h.recordValue(latencies[i] as number);
  return performance.now() - t;
}

function plainLoop(latencies: Float64Array): number {
  const t = performance.now();
  let s = 0;
  for (let i = 0; i < latencies.length; i++) s += latencies[i] as number;
  const ms = performance.now() - t;
  if (s < 0) throw new Error('impossible');
  return ms;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

function main(): void {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '40000' },
      seconds: { type: 'string', default: '60' },
      agents: { type: 'string', default: '500' },
      vendors: { type: 'string', default: '3' },
      batches: { type: 'string', default: '25' },
      'flush-ms': { type: 'string', default: '5000' },
      'postgres-every': { type: 'string', default: '1' },
      results: { type: 'string', default: 'native-bench/results/rollup-cost.json' },
      'no-save': { type: 'boolean', default: false },
    },
  });
  const params = {
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    agents: Number(values.agents),
    vendors: Number(values.vendors),
    batches: Number(values.batches),
    flushMs: Number(values['flush-ms']),
    postgresEvery: Number(values['postgres-every']),
  };
  for (const [k, v] of Object.entries(params)) if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k} must be a positive integer`);
  const { batches, latencies } = buildBatches(params);
  const batchesPerFlush = Math.max(1, Math.round((params.flushMs / 1000) * params.batches));

  runRollups(batches.slice(0, Math.min(batches.length, 10 * params.batches)), batchesPerFlush, params.postgresEvery); // warm-up
  bareHdr(latencies);
  const rounds = Array.from({ length: ROUNDS }, () => ({ r: runRollups(batches, batchesPerFlush, params.postgresEvery), hdr: bareHdr(latencies), loop: plainLoop(latencies) }));
  const perSec = (ms: number): number => Math.round((ms / params.seconds) * 100) / 100;
  const pick = (f: (x: (typeof rounds)[number]) => number): number => median(rounds.map(f));
  const figures: Figures = {
    recordMsPerSec: perSec(pick((x) => x.r.recordMsPerSec)),
    encodeMsPerSec: perSec(pick((x) => x.r.encodeMsPerSec)),
    postgresMergeMsPerSec: perSec(pick((x) => x.r.postgresMergeMsPerSec)),
    clickhouseJsonMsPerSec: perSec(pick((x) => x.r.clickhouseJsonMsPerSec)),
    totalMsPerSec: perSec(pick((x) => x.r.recordMsPerSec + x.r.encodeMsPerSec + x.r.postgresMergeMsPerSec + x.r.clickhouseJsonMsPerSec)),
    worstFlushMs: Math.round(pick((x) => x.r.worstFlushMs) * 10) / 10,
    bareHdrMsPerSec: perSec(pick((x) => x.hdr)),
    plainLoopMsPerSec: perSec(pick((x) => x.loop)),
    rowsPerFlush: Math.round(rounds[0]?.r.rowsPerFlush ?? 0),
    hourRowsPerFlush: Math.round(rounds[0]?.r.hourRowsPerFlush ?? 0),
  };

  const previous = values['no-save'] || !existsSync(values.results) ? null : (JSON.parse(readFileSync(values.results, 'utf8')) as ResultsFile);
  const groupsPerBatch = Math.round(batches.reduce((n, b) => n + b.length, 0) / batches.length);
  console.log(
    `rollup-cost: ${params.rate} latencies/s for ${params.seconds} s, ${params.agents} agents x ${params.vendors} vendors, ` +
      `${params.batches} COPY batches/s (~${groupsPerBatch} groups each), flush every ${params.flushMs} ms, PostgreSQL every ${params.postgresEvery} flush(es); median of ${ROUNDS}`,
  );
  const line = (label: string, key: keyof Figures, unit: string): void => {
    const last = previous?.figures[key];
    console.log(`${label.padEnd(46)}${String(figures[key]).padStart(10)} ${unit.padEnd(10)}${last === undefined ? '' : `(last ${last})`}`);
  };
  line('record(): MinuteCells.add, keeps the arrays', 'recordMsPerSec', 'ms/s');
  line('flush: histograms, ClickHouse rows, hour deltas', 'encodeMsPerSec', 'ms/s');
  line('flush: PostgreSQL merge (decode, add, encode)', 'postgresMergeMsPerSec', 'ms/s');
  line('flush: ClickHouse JSONEachRow serialisation', 'clickhouseJsonMsPerSec', 'ms/s');
  line('total (share of one core = value / 10 %)', 'totalMsPerSec', 'ms/s');
  line('worst single flush (sliced at 5 ms)', 'worstFlushMs', 'ms');
  line('ceiling: bare HDR recordValue, one histogram', 'bareHdrMsPerSec', 'ms/s');
  line('ceiling: plain loop over the latencies', 'plainLoopMsPerSec', 'ms/s');
  line('ClickHouse rows per flush', 'rowsPerFlush', 'rows');
  line('hour rows per flush (averaged)', 'hourRowsPerFlush', 'rows');
  console.log(`record() is ${(figures.recordMsPerSec / figures.bareHdrMsPerSec).toFixed(2)}x the bare HDR ceiling; everything is ${(figures.totalMsPerSec / 10).toFixed(2)}% of one core`);

  if (!values['no-save']) {
    mkdirSync(dirname(values.results), { recursive: true });
    const file: ResultsFile = { date: new Date().toISOString(), node: process.version, params, figures };
    writeFileSync(values.results, JSON.stringify(file, null, 2) + '\n');
  }
}

main();
