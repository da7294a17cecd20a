/**
 * Renders a run (and the previous one) as bench/results/report.md with SVG charts in
 * bench/results/charts/. Everything here reads the RunRecord only, so an old run can be
 * re-rendered (`--report-only`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PinMode } from '../affinity.js';
import type { CommitFloor } from '../commit-probe.js';
import { fmtDelta, fmtInt, fmtNum, fmtPct } from '../format.js';
import type { CpuSplit } from '../proc-sampler.js';
import type { Figure, RunRecord, ThroughputScenario } from '../results.js';
import type { AuditResult } from '../row-audit.js';
import { barChart, lineChart, type LineSeries } from './svg-chart.js';

const COLORS = { receiver: '#1f77b4', peer: '#ff7f0e', http: '#2ca02c', previous: '#9e9e9e', copy: '#d62728', goal: '#6a3d9a', verify: '#8c564b' };

export function writeReport(dir: string, rec: RunRecord, previous: RunRecord | null): string {
  const charts = join(dir, 'charts');
  mkdirSync(charts, { recursive: true });
  const md: string[] = [];
  const chart = (name: string, svg: string, alt: string) => {
    writeFileSync(join(charts, name), svg);
    md.push(`![${alt}](charts/${name})`, '');
  };

  md.push(`# Benchmark report: ${rec.id}${rec.quick ? ' (quick)' : ''}`, '');
  md.push(
    `Run ${rec.startedAt} → ${rec.finishedAt} (${Math.round(rec.wallSeconds)} s), git ${rec.machine.git}, Node ${rec.machine.node}, ` +
      `${rec.machine.cpus} × ${rec.machine.model}. Load average ${rec.machine.loadAvgStart.map((v) => v.toFixed(2)).join(' ')} at start, ` +
      `${rec.machine.loadAvgEnd.map((v) => v.toFixed(2)).join(' ')} at the end (other sessions share this machine; every ceiling below was measured in this run).`,
    '',
  );
  md.push(
    `PostgreSQL ${rec.postgres.server_version ?? '?'} (fsync ${rec.postgres.fsync ?? '?'}, synchronous_commit ${rec.postgres.synchronous_commit ?? '?'}, ` +
      `shared_buffers ${rec.postgres.shared_buffers ?? '?'}, max_wal_size ${rec.postgres.max_wal_size ?? '?'}); receiver WORKERS=${rec.receiver.workers}` +
      `${Object.entries(rec.receiver.env).map(([k, v]) => `, ${k}=${v}`).join('')}. Placement: ${placementText(rec)}.`,
    '',
  );
  md.push(previous === null ? 'No previous run to compare with.' : `Compared with the previous ${previous.quick ? 'quick ' : ''}run **${previous.id}** (git ${previous.machine.git}).`, '');
  if (rec.problems.length > 0) md.push('**Problems in this run:**', '', ...rec.problems.map((p) => `- ${p}`), '');

  md.push('## Goals', '', '| goal | figure | value | met |', '|---|---|---:|:---:|');
  for (const f of rec.figures) for (const g of f.goals) md.push(`| ${g.text} | ${f.scenario}: ${f.label} | ${value(f)} | ${g.met ? 'yes' : '**no**'} |`);
  md.push('');

  md.push('## Every figure, its bounds and the previous run', '');
  md.push('Throughput ratios are figure ÷ ceiling (at most 1 in principle); latency ratios are figure ÷ floor (at least 1).', '');
  let scenario = '';
  for (const f of rec.figures) {
    if (f.scenario !== scenario) {
      scenario = f.scenario;
      md.push('', `**${scenario}**`, '', '| figure | value | bounded by (ratio) | previous | change |', '|---|---:|---|---:|---:|');
    }
    const bounds = f.bounds.map((b) => `${b.label} ${fmtNum(b.value, f.unit)} (${f.unit === 'ms' ? `${b.ratio.toFixed(1)}×` : fmtPct(b.ratio)})`).join('; ');
    md.push(`| ${f.label} | ${value(f)} | ${bounds || '–'} | ${f.previous === null ? '–' : fmtNum(f.previous, f.unit)} | ${fmtDelta(f.value, f.previous)} |`);
  }
  md.push('');

  for (const t of [rec.scenarios.target, rec.scenarios.targetCompare]) {
    if (t === undefined) continue;
    md.push(`## target [${t.placement}]`, '');
    md.push(`${t.ratePerS} single-event signed requests/s on an even schedule over ${t.connections} connections; latency from each request's scheduled send time to its parsed answer.`, '');
    const pt = [previous?.scenarios.target, previous?.scenarios.targetCompare].find((p) => p?.placement === t.placement);
    const commitFloor = t.receiver.commitFloor ?? null;
    const series = [
      { name: 'receiver', values: pcts(t.receiver.load.latencyMs), color: COLORS.receiver },
      ...(t.peer === null ? [] : [{ name: 'peer', values: pcts(t.peer.load.latencyMs), color: COLORS.peer }]),
      ...(t.httpCeiling === null ? [] : [{ name: 'bare uWS (floor)', values: pcts(t.httpCeiling.load.latencyMs), color: COLORS.http }]),
      ...(commitFloor === null ? [] : [{ name: 'PostgreSQL one-row commit (floor)', values: pcts(commitFloor.latencyMs), color: COLORS.copy }]),
      ...(pt === undefined ? [] : [{ name: `receiver, previous run`, values: pcts(pt.receiver.load.latencyMs), color: COLORS.previous }]),
    ];
    chart(
      `target-${t.placement}-latency.svg`,
      barChart({
        title: `Ack latency at ${t.ratePerS} packets/s (ms)`,
        yLabel: 'ms',
        groups: ['p50', 'p90', 'p99', 'p99.9'],
        series,
        refLine: { label: 'goal: p99 ≤ 20 ms', value: 20, color: COLORS.goal },
        scaleBy: series.length - (pt === undefined ? 0 : 1),
      }),
      'ack latency percentiles',
    );
    const vis = [
      ...(t.receiver.visibility === null ? [] : [{ name: 'receiver: ack → visible', values: visPcts(t.receiver.visibility.visibilityMs), color: COLORS.receiver }]),
      ...(t.peer?.visibility === null || t.peer === null ? [] : [{ name: 'peer: ack → visible', values: visPcts(t.peer.visibility.visibilityMs), color: COLORS.peer }]),
      ...(t.receiver.visibility === null ? [] : [{ name: 'probe SELECT alone (floor)', values: visPcts(t.receiver.visibility.queryRttMs), color: COLORS.http }]),
    ];
    if (vis.length > 0) chart(`target-${t.placement}-visibility.svg`, barChart({ title: 'From the 202 to the row answering a SELECT (ms); goal p99 ≤ 250 ms', yLabel: 'ms', groups: ['p50', 'p90', 'p99', 'max'], series: vis }), 'visibility percentiles');
    md.push('| server | packets/s | p50 | p90 | p99 | p99.9 | max | errors | commit p99 (floor) | visible p99 | first-poll hits | rows |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [name, r] of [['receiver', t.receiver], ['peer', t.peer], ['bare uWS', t.httpCeiling]] as const) {
      if (r === null) continue;
      const l = r.load.latencyMs;
      const v = r.visibility;
      md.push(`| ${name} | ${fmtInt(r.load.eventsPerS)} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.p999} | ${l.max} | ${r.load.errors} | ${commitCell(r.commitFloor ?? null)} | ${v === null ? '–' : v.visibilityMs.p99} | ${v === null ? '–' : `${v.visibleOnFirstPoll}/${v.sampled}`} | ${auditText(r.audit)} |`);
    }
    md.push('');
    chart(`target-${t.placement}-throughput.svg`, lineChart({ title: `target [${t.placement}]: packets/s acknowledged per second`, yLabel: 'packets/s', xLabel: 'second', series: [{ name: 'receiver', values: t.receiver.load.perSecond, color: COLORS.receiver }, ...(t.peer === null ? [] : [{ name: 'peer', values: t.peer.load.perSecond, color: COLORS.peer }])] }), 'target throughput over time');
  }

  for (const [key, title] of [['max', 'max'], ['perPacketSigned', 'per-packet-signed']] as const) {
    const byMode = rec.scenarios[key];
    if (byMode === undefined) continue;
    for (const [mode, s] of Object.entries(byMode) as [PinMode, ThroughputScenario][]) {
      md.push(`## ${title} [${mode}]`, '');
      md.push(
        `${key === 'max' ? 'Batches of 100 interaction events per signed request' : 'One event per signed request'}, closed loop; each server ramped until its rate stopped growing, then held at its best level, receiver and peer holds alternating; the median hold counts. ` +
          presignedText(s),
        '',
      );
      const prevHold = previous?.scenarios[key]?.[mode]?.receiver.hold.perSecond;
      const copy = rec.ceilings.byPlacement[mode]?.copy?.rowsPerSec;
      const verify = rec.ceilings.byPlacement[mode]?.verifySingle?.sodiumPerSec;
      const series: LineSeries[] = [
        { name: 'receiver', values: s.receiver.hold.perSecond, color: COLORS.receiver },
        ...(s.peer === null ? [] : [{ name: 'peer', values: s.peer.hold.perSecond, color: COLORS.peer }]),
        ...(s.httpCeiling === null ? [] : [{ name: 'bare uWS', values: s.httpCeiling.perSecond, color: COLORS.http }]),
        ...(prevHold === undefined ? [] : [{ name: 'receiver, previous run', values: prevHold, color: COLORS.previous, dashed: true }]),
      ];
      const hLines = [
        ...(copy === undefined ? [] : [{ label: 'psql \\copy ceiling', value: copy, color: COLORS.copy }]),
        ...(key === 'perPacketSigned' && verify !== undefined ? [{ label: 'verify ceiling', value: verify, color: COLORS.verify }] : []),
        ...(key === 'max' ? [{ label: 'goal', value: 40_000, color: COLORS.goal }] : []),
      ];
      chart(`${title}-${mode}-throughput.svg`, lineChart({ title: `${title} [${mode}]: packets/s acknowledged per second of the median hold`, yLabel: 'packets/s', xLabel: 'second of the hold', series, hLines }), `${title} throughput over time`);
      md.push(
        '| server | level | holds: sustained/s (in order) | median hold: acknowledged/s (median second) | into PostgreSQL/s | via spool (batches) | p50 ms | p99 ms | errors (all holds) | RSS max / median MiB | rows (catch-up) | ramp (connections: packets/s); runoff |',
        '|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|',
      );
      for (const [name, r] of [['receiver', s.receiver], ['peer', s.peer]] as const) {
        if (r === null) continue;
        md.push(
          `| ${name} | ${r.level} | ${r.holds.map((h) => fmtInt(h.sustainedPerS)).join(', ')} | ${fmtInt(r.hold.eventsPerS)} (${fmtInt(r.hold.perSecondMedian)}) | ${r.storedDuringHold === null ? '–' : fmtInt(r.storedDuringHold.perS)} | ${r.spool === null ? '–' : r.spool.appendsDuringHold} | ${r.hold.latencyMs.p50} | ${r.hold.latencyMs.p99} | ${r.holds.reduce((a, h) => a + h.errors, 0)} | ${r.rss === null ? '–' : `${r.rss.maxMiB} / ${r.rss.medianMiB}`} | ${auditText(r.audit)}${r.audit === null ? '' : ` (${r.audit.catchUpS} s)`} | ${r.ramp.map((st) => `${st.connections}: ${fmtInt(st.eventsPerS)}${st.errors > 0 ? ` (${st.errors} err)` : ''}`).join(', ')}${(r.runoff ?? []).length === 0 ? '' : `; runoff ${(r.runoff ?? []).map((x) => `${x.connections}: ${fmtInt(x.eventsPerS)}`).join(', ')}`} |`,
        );
      }
      if (s.httpCeiling !== null) md.push(`| bare uWS | ${s.httpCeiling.connections} | – | ${fmtInt(s.httpCeiling.eventsPerS)} (${fmtInt(s.httpCeiling.perSecondMedian)}) | – | – | ${s.httpCeiling.latencyMs.p50} | ${s.httpCeiling.latencyMs.p99} | ${s.httpCeiling.errors} | – | – | – |`);
      md.push('', '**Where the CPU went during the median hold** (cores; 1.00 = one core busy):', '');
      md.push('| server | load generator | server main thread | server other threads (top) | PostgreSQL (by role) | other sessions | machine busy |', '|---|---:|---:|---|---|---:|---:|');
      for (const [name, r] of [['receiver', s.receiver], ['peer', s.peer]] as const) if (r?.cpu !== null && r?.cpu !== undefined) md.push(cpuRow(name, r.cpu));
      md.push('', 'Time spent runnable but **waiting for a CPU** (thread-seconds per second, from schedstat): what held each side back.', '');
      md.push('| server | load generator | server main thread | server other threads | PostgreSQL |', '|---|---:|---:|---:|---:|');
      for (const [name, r] of [['receiver', s.receiver], ['peer', s.peer]] as const) {
        const w = r?.cpu?.waiting;
        if (w !== undefined) md.push(`| ${name} | ${w.client.toFixed(2)} | ${w.serverMain.toFixed(2)} | ${w.serverOtherThreads.toFixed(2)} | ${w.postgres.toFixed(2)} |`);
      }
      md.push('', limitNote(s), '');
      const top = s.receiver.top;
      if (top !== '') md.push('<details><summary>top -H, middle of the receiver hold</summary>', '', "top's line for a process's first thread (its process id) shows the whole process: the main thread's own CPU is in the table above.", '', '```', top, '```', '', '</details>', '');
    }
  }

  const m = rec.scenarios.mix;
  if (m !== undefined) {
    md.push('## mix', '');
    md.push(`Closed loop, ${m.connections} connections, every body form in turn (JSON, MessagePack, gzip JSON, gzip MessagePack, telemetry, single, binary mode, /v1/ingest).`, '');
    md.push('| kind | requests | events sent | events acknowledged |', '|---|---:|---:|---:|');
    for (const [k, v] of Object.entries(m.receiver.load.byKind)) md.push(`| ${k} | ${fmtInt(v.sent)} | ${fmtInt(v.eventsSent)} | ${fmtInt(v.acked)} |`);
    md.push('', `Receiver ${fmtInt(m.receiver.load.eventsPerS)} packets/s, p99 ${m.receiver.load.latencyMs.p99} ms, ${m.receiver.load.errors} errors, rows: ${auditText(m.receiver.audit)}; bare uWS on the same mix ${fmtInt(m.httpCeiling?.eventsPerS ?? 0)} packets/s.`, '');
    if (m.receiver.load.errorSamples.length > 0) md.push('Error samples:', '', '```', ...m.receiver.load.errorSamples, '```', '');
    chart('mix-throughput.svg', lineChart({ title: 'mix: packets/s acknowledged per second', yLabel: 'packets/s', xLabel: 'second', series: [{ name: 'receiver', values: m.receiver.load.perSecond, color: COLORS.receiver }, ...(m.httpCeiling === null ? [] : [{ name: 'bare uWS', values: m.httpCeiling.perSecond, color: COLORS.http }])] }), 'mix throughput over time');
  }

  md.push('## Ceilings', '');
  for (const [mode, c] of Object.entries(rec.ceilings.byPlacement)) {
    if (c.copy !== null) md.push(`- psql \\copy [${mode}]: ${c.copy.runs.map((r) => `${r.streams} stream(s): ${fmtInt(r.rows)} rows in ${r.seconds} s = ${fmtInt(r.rowsPerSec)} rows/s`).join('; ')} (${c.copy.bytesPerRow} B of COPY data per row, in the sink's format).`);
    const v = c.verifySingle;
    if (v !== null) {
      md.push(
        `- Ed25519 verify [${mode}], ${v.messageBytes}-byte signed message: libsodium (the receiver's workers) ${v.sodiumPerSec === undefined ? 'n/a' : `${fmtInt(v.sodiumPerSec)}/s`} in ${v.threads} thread(s); node:crypto (the peer's) with a cached KeyObject ${fmtInt(v.nodeCachedPerSec)}/s in ${v.threads} thread(s) (${fmtInt(v.nodeCachedPerThreadPerSec)}/s per thread); importing the key each time ${fmtInt(v.nodeImportEachPerSec)}/s; tweetnacl ${v.tweetnaclPerSec}/s (${fmtInt(v.nodeCachedPerThreadPerSec / Math.max(v.tweetnaclPerSec, 1e-9))}× slower than node:crypto: producers only); openssl speed ${v.opensslPerSec === null ? 'n/a' : `${fmtInt(v.opensslPerSec)}/s`}.`,
      );
    }
  }
  const codec = rec.ceilings.codec;
  if (codec !== null) {
    const r = codec.results;
    md.push(
      `- Codec, 100-event batch (JSON ${codec.bodyBytes.json} B, MessagePack ${codec.bodyBytes.msgpack} B), one thread: JSON ${fmtInt(r.json?.eventsPerSec ?? 0)} events/s, MessagePack ${fmtInt(r.msgpack?.eventsPerSec ?? 0)} events/s; bare JSON.parse ${fmtInt(r.jsonParseCeiling?.eventsPerSec ?? 0)}, bare msgpackr ${fmtInt(r.msgpackUnpackCeiling?.eventsPerSec ?? 0)}.`,
    );
  }
  const ring = rec.ceilings.ring;
  if (ring !== null) {
    const r = ring.results;
    md.push(`- Hand-off of ${ring.size}-byte bodies to a worker: postMessage(copy) ${fmtInt(r.copy?.opsPerSec ?? 0)}/s, transferred ${fmtInt(r.transfer?.opsPerSec ?? 0)}/s, shared ring ${fmtInt(r.ring?.opsPerSec ?? 0)}/s (ring work alone ${fmtInt(r.ceiling?.opsPerSec ?? 0)}/s).`);
  }
  md.push('', 'How to read this report: bench/README.md.', '');
  const file = join(dir, 'report.md');
  writeFileSync(file, md.join('\n'));
  return file;
}

function value(f: Figure): string {
  return `${fmtNum(f.value, f.unit)} ${f.unit === 'count' ? '' : f.unit}`.trim();
}

function pcts(l: { p50: number; p90: number; p99: number; p999: number }): number[] {
  return [l.p50, l.p90, l.p99, l.p999];
}

function visPcts(l: { p50: number; p90: number; p99: number; max: number }): number[] {
  return [l.p50, l.p90, l.p99, l.max];
}

/** A run's commit floor p99, with its failed commits if any (they are not in the percentiles). */
function commitCell(c: CommitFloor | null): string {
  if (c === null) return '–';
  return c.failures > 0 ? `${c.latencyMs.p99} (${c.failures} failed)` : String(c.latencyMs.p99);
}

function auditText(a: AuditResult | null): string {
  if (a === null) return '–';
  const parts = Object.entries(a.tables).map(([t, v]) => `${t} ${fmtInt(v.stored)}/${fmtInt(v.acknowledged)}`);
  return `${a.ok ? 'exact' : `**${a.problems.join('; ')}**`} (${parts.join(', ')} stored/acked)`;
}

function cpuRow(name: string, c: CpuSplit): string {
  const threads = c.serverTopThreads.map((t) => t.cores.toFixed(2)).join(', ');
  const pg = Object.entries(c.postgresByRole)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `| ${name} | ${c.client.toFixed(2)} | ${c.serverMain.toFixed(2)} | ${c.serverOtherThreads.toFixed(2)} (${threads}) | ${c.postgres.toFixed(2)} (${pg}) | ${c.other.toFixed(2)} | ${c.machineBusy.toFixed(2)} of ${c.cores} |`;
}

/** Who signed the requests of a throughput scenario, and when. */
function presignedText(s: ThroughputScenario): string {
  const p = s.presigned;
  if (p === null) return 'The load generator built and signed these requests live.';
  const counts = `${fmtInt(p.requests)} in ${p.signSeconds} s; built live past the end: ${Object.entries(p.liveBuilt).map(([k, v]) => `${k} ${v}`).join(', ')}`;
  return s.presignedRuns === 'all'
    ? `Every run's requests were signed just before it (${counts}), so the load generator's core goes to sending.`
    : `The holds' requests were signed just before each round (${counts}); the ramp's were built and signed live.`;
}

/** A one-paragraph reading of the receiver's hold: what was saturated. */
function limitNote(s: ThroughputScenario): string {
  const c = s.receiver.cpu;
  if (c === null) return '';
  const parts: [string, number][] = [
    ['load generator', c.client],
    ['receiver main thread', c.serverMain],
    ['receiver other threads', c.serverOtherThreads],
    ['PostgreSQL', c.postgres],
    ['other sessions', c.other],
  ];
  parts.sort((a, b) => b[1] - a[1]);
  const busy = c.machineBusy / c.cores;
  const hottestThread = Math.max(c.serverMain, ...c.serverTopThreads.map((t) => t.cores));
  const notes: string[] = [];
  notes.push(`Machine ${Math.round(busy * 100)}% busy; largest share: ${parts[0]?.[0]} (${parts[0]?.[1].toFixed(2)} cores), then ${parts[1]?.[0]} (${parts[1]?.[1].toFixed(2)}).`);
  if (hottestThread > 0.9) notes.push(`One receiver thread is at ${hottestThread.toFixed(2)} cores: that thread is the bottleneck.`);
  else if (busy > 0.9) notes.push(`No single receiver thread is saturated; the machine is: the receiver competes with PostgreSQL and the load generator for the ${c.cores} cores.`);
  if (c.other > 0.25 * c.cores) notes.push(`Other sessions took ${c.other.toFixed(2)} cores during this hold: the figure is depressed by them, compare ratios rather than absolute rates.`);
  return `*Reading:* ${notes.join(' ')}`;
}

function placementText(rec: RunRecord): string {
  const modes = new Set<string>();
  for (const byMode of [rec.scenarios.max, rec.scenarios.perPacketSigned]) for (const m of Object.keys(byMode ?? {})) modes.add(m);
  const text = (m: string) => (m === 'split' ? 'split (load generator on CPU 0, servers and PostgreSQL on CPU 1+)' : 'none (unpinned)');
  const throughput = modes.size === 0 ? text(String(rec.options.pin)) : [...modes].map(text).join('; ');
  const target = [rec.scenarios.target, rec.scenarios.targetCompare].flatMap((t) => (t === undefined ? [] : [t.placement]));
  return target.length === 0 ? throughput : `${throughput}; target: ${target.join(' (goals), ')}${target.length > 1 ? '' : ' (goals)'}`;
}

