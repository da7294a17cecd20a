/**
 * The figures of a run: every end-to-end number with the ceilings (or floors) measured in
 * the same run that bound it, the goals of the issue it is held to, and the previous run's
 * value. Ids are stable so that runs compare.
 */
import type { PinMode } from './affinity.js';
import type { Figure, RunRecord, ServerRun, TargetScenario, ThroughputScenario } from './results.js';

interface Bound {
  label: string;
  value: number | null | undefined;
}

interface Goal {
  text: string;
  met: boolean;
}

type NewFigure = Omit<Figure, 'bounds' | 'previous' | 'goals'> & { bounds?: Bound[]; goals?: Goal[] };

export function buildFigures(rec: RunRecord, previous: RunRecord | null): Figure[] {
  const out: Figure[] = [];
  const prev = new Map<string, number>((previous?.figures ?? []).map((f) => [f.id, f.value]));
  const add = (f: NewFigure): void => {
    if (!Number.isFinite(f.value)) return;
    const bounds = (f.bounds ?? [])
      .filter((b): b is { label: string; value: number } => typeof b.value === 'number' && Number.isFinite(b.value) && b.value > 0)
      .map((b) => ({ label: b.label, value: b.value, ratio: Math.round((f.value / b.value) * 1000) / 1000 }));
    out.push({ ...f, bounds, goals: f.goals ?? [], previous: prev.get(f.id) ?? null });
  };

  const codecJson = rec.ceilings.codec?.results.json?.eventsPerSec;
  const codecBound = codecJson === undefined ? null : codecJson * Math.min(rec.receiver.workers, rec.machine.cpus);

  // ---- target: the goals in its own placement, the other placement for comparison
  if (rec.scenarios.target !== undefined) addTarget(add, rec.scenarios.target, true);
  if (rec.scenarios.targetCompare !== undefined) addTarget(add, rec.scenarios.targetCompare, false);

  // ---- max and per-packet-signed, per placement
  for (const [mode, s] of Object.entries(rec.scenarios.max ?? {}) as [PinMode, ThroughputScenario][]) {
    const copy = rec.ceilings.byPlacement[mode]?.copy?.rowsPerSec;
    const http = s.httpCeiling?.eventsPerS;
    const r = s.receiver.sustainedPerS;
    const peer = s.peer?.sustainedPerS;
    const p = `max.${mode}`;
    const rErrors = holdErrors(s.receiver);
    add(ackedFigure(`${p}.receiver.acked_per_s`, `max [${mode}]`, s.receiver));
    add({
      id: `${p}.receiver.packets_per_s`,
      scenario: `max [${mode}]`,
      label: `receiver: packets/s sustained (batches of 100, c=${s.receiver.level}, median of ${s.receiver.holds.length} × ${s.receiver.hold.durationS} s holds, ${rErrors} errors; acknowledged and in PostgreSQL)`,
      value: r,
      unit: 'packets/s',
      better: 'higher',
      bounds: [
        { label: 'psql \\copy ceiling', value: copy },
        { label: 'bare uWS ceiling', value: http },
        { label: `codec ceiling (${rec.receiver.workers} worker${rec.receiver.workers > 1 ? 's' : ''})`, value: codecBound },
      ],
      goals: [
        { text: '≥ 40,000 packets/s', met: r >= 40_000 && rErrors === 0 },
        ...(copy === undefined ? [] : [{ text: '≥ 0.7 × COPY ceiling', met: r >= 0.7 * copy }]),
      ],
    });
    if (peer !== undefined) {
      add({ id: `${p}.peer.packets_per_s`, scenario: `max [${mode}]`, label: `peer: packets/s sustained (c=${s.peer?.level}, median of ${s.peer?.holds.length} holds, ${s.peer === null ? 0 : holdErrors(s.peer)} errors)`, value: peer, unit: 'packets/s', better: 'higher', bounds: [{ label: 'psql \\copy ceiling', value: copy }, { label: 'bare uWS ceiling', value: http }] });
      add({ id: `${p}.receiver_over_peer`, scenario: `max [${mode}]`, label: 'receiver ÷ peer', value: round3(r / peer), unit: '×', better: 'higher', goals: [{ text: '≥ 1.5 × peer', met: r >= 1.5 * peer }] });
    }
    addEfficiency(add, p, `max [${mode}]`, s, [{ label: 'psql \\copy rows per PostgreSQL CPU-second', value: rec.ceilings.byPlacement[mode]?.copy?.rowsPerPgCpuSecond }]);
    if (s.receiver.rss !== null) {
      add({ id: `${p}.receiver.rss_max`, scenario: `max [${mode}]`, label: `receiver RSS max (${s.receiver.rss.samples} samples)`, value: s.receiver.rss.maxMiB, unit: 'MiB', better: 'lower', goals: [{ text: '≤ 300 MiB', met: s.receiver.rss.maxMiB <= 300 }] });
      add({ id: `${p}.receiver.rss_median`, scenario: `max [${mode}]`, label: 'receiver RSS median', value: s.receiver.rss.medianMiB, unit: 'MiB', better: 'lower' });
    }
    if (s.peer?.rss !== undefined && s.peer.rss !== null) add({ id: `${p}.peer.rss_max`, scenario: `max [${mode}]`, label: 'peer RSS max', value: s.peer.rss.maxMiB, unit: 'MiB', better: 'lower' });
  }

  for (const [mode, s] of Object.entries(rec.scenarios.perPacketSigned ?? {}) as [PinMode, ThroughputScenario][]) {
    const v = rec.ceilings.byPlacement[mode]?.verifySingle;
    const copy = rec.ceilings.byPlacement[mode]?.copy?.rowsPerSec;
    const http = s.httpCeiling?.eventsPerS;
    const r = s.receiver.sustainedPerS;
    const peer = s.peer?.sustainedPerS;
    const p = `per_packet_signed.${mode}`;
    const rErrors = holdErrors(s.receiver);
    add(ackedFigure(`${p}.receiver.acked_per_s`, `per-packet-signed [${mode}]`, s.receiver));
    add({
      id: `${p}.receiver.packets_per_s`,
      scenario: `per-packet-signed [${mode}]`,
      label: `receiver: single-event signed requests/s sustained (c=${s.receiver.level}, median of ${s.receiver.holds.length} holds, ${rErrors} errors)`,
      value: r,
      unit: 'packets/s',
      better: 'higher',
      bounds: [
        { label: `libsodium verify (the workers'), ${v?.threads ?? '?'} thread(s)`, value: v?.sodiumPerSec },
        { label: `node:crypto verify, ${v?.threads ?? '?'} thread(s)`, value: v?.nodeCachedPerSec },
        { label: 'bare uWS ceiling', value: http },
        { label: 'psql \\copy ceiling', value: copy },
      ],
      goals: v?.sodiumPerSec === undefined ? [] : [{ text: '≥ 0.8 × native verify of the worker threads', met: r >= 0.8 * v.sodiumPerSec && rErrors === 0 }],
    });
    if (peer !== undefined) {
      add({
        id: `${p}.peer.packets_per_s`,
        scenario: `per-packet-signed [${mode}]`,
        label: `peer: single-event signed requests/s sustained (c=${s.peer?.level}, median of ${s.peer?.holds.length} holds, ${s.peer === null ? 0 : holdErrors(s.peer)} errors)`,
        value: peer,
        unit: 'packets/s',
        better: 'higher',
        bounds: [
          { label: 'node:crypto verify, 1 thread', value: v?.nodeCachedPerThreadPerSec },
          { label: 'bare uWS ceiling', value: http },
        ],
      });
      add({ id: `${p}.receiver_over_peer`, scenario: `per-packet-signed [${mode}]`, label: 'receiver ÷ peer', value: round3(r / peer), unit: '×', better: 'higher', goals: [{ text: '≥ 3 × peer', met: r >= 3 * peer }] });
    }
    addEfficiency(add, p, `per-packet-signed [${mode}]`, s, [{ label: 'libsodium verify per thread-second', value: v?.sodiumPerThreadPerSec }]);
  }

  // ---- mix
  const m = rec.scenarios.mix;
  if (m !== undefined) {
    add({
      id: 'mix.receiver.packets_per_s',
      scenario: 'mix',
      label: `receiver: packets/s, all body forms (c=${m.connections})`,
      value: m.receiver.load.eventsPerS,
      unit: 'packets/s',
      better: 'higher',
      bounds: [
        { label: 'bare uWS ceiling (same mix)', value: m.httpCeiling?.eventsPerS },
        { label: 'psql \\copy ceiling', value: rec.ceilings.byPlacement[m.placement]?.copy?.rowsPerSec },
      ],
    });
    add({ id: 'mix.receiver.errors', scenario: 'mix', label: 'receiver: errors', value: m.receiver.load.errors, unit: 'count', better: 'lower', goals: [{ text: 'zero errors, rows exact', met: m.receiver.load.errors === 0 && (m.receiver.audit?.ok ?? false) }] });
  }

  // ---- the ceilings themselves (compared with the previous run too)
  for (const [mode, c] of Object.entries(rec.ceilings.byPlacement) as [PinMode, NonNullable<RunRecord['ceilings']['byPlacement'][PinMode]>][]) {
    if (c.copy !== null) {
      add({ id: `ceiling.${mode}.copy_rows_per_s`, scenario: 'ceilings', label: `psql \\copy rows/s [${mode}] (best of 1 and 2 streams)`, value: c.copy.rowsPerSec, unit: 'rows/s', better: 'higher' });
      if (c.copy.rowsPerPgCpuSecond !== null) {
        add({ id: `ceiling.${mode}.copy_rows_per_pg_cpu_s`, scenario: 'ceilings', label: `psql \\copy rows per PostgreSQL CPU-second [${mode}]`, value: c.copy.rowsPerPgCpuSecond, unit: 'rows/CPU-s', better: 'higher' });
      }
    }
    const v = c.verifySingle;
    if (v !== null) {
      if (v.sodiumPerSec !== undefined) add({ id: `ceiling.${mode}.verify_sodium`, scenario: 'ceilings', label: `Ed25519 verify/s, libsodium (the workers'), ${v.threads} thread(s) [${mode}]`, value: v.sodiumPerSec, unit: '/s', better: 'higher' });
      add({ id: `ceiling.${mode}.verify_node`, scenario: 'ceilings', label: `Ed25519 verify/s, node:crypto cached key, ${v.threads} thread(s) [${mode}]`, value: v.nodeCachedPerSec, unit: '/s', better: 'higher' });
      add({ id: `ceiling.${mode}.verify_node_import`, scenario: 'ceilings', label: `Ed25519 verify/s, key imported each time [${mode}]`, value: v.nodeImportEachPerSec, unit: '/s', better: 'higher' });
      add({ id: `ceiling.${mode}.verify_tweetnacl`, scenario: 'ceilings', label: `Ed25519 verify/s, tweetnacl [${mode}]`, value: v.tweetnaclPerSec, unit: '/s', better: 'higher' });
      if (v.opensslPerSec !== null) add({ id: `ceiling.${mode}.verify_openssl`, scenario: 'ceilings', label: `Ed25519 verify/s, openssl speed [${mode}]`, value: v.opensslPerSec, unit: '/s', better: 'higher' });
    }
  }
  const codec = rec.ceilings.codec?.results;
  if (codec !== undefined) {
    for (const [k, label] of [
      ['json', 'codec: JSON batch decode+validate+rows, events/s, 1 thread'],
      ['msgpack', 'codec: MessagePack batch decode+validate+rows, events/s, 1 thread'],
      ['jsonParseCeiling', 'codec ceiling: JSON.parse only, events/s'],
      ['msgpackUnpackCeiling', 'codec ceiling: msgpackr unpack only, events/s'],
    ] as const) {
      const v = codec[k]?.eventsPerSec;
      if (v !== undefined) add({ id: `ceiling.codec.${k}`, scenario: 'ceilings', label, value: Math.round(v), unit: 'events/s', better: 'higher' });
    }
  }
  const ring = rec.ceilings.ring?.results;
  if (ring !== undefined) {
    for (const [k, label] of [
      ['copy', 'hand-off: postMessage(copied Buffer), bodies/s'],
      ['ring', 'hand-off: shared ring + batched positions, bodies/s'],
      ['ceiling', 'hand-off ceiling: ring work on one thread, bodies/s'],
    ] as const) {
      const v = ring[k]?.opsPerSec;
      if (v !== undefined) add({ id: `ceiling.ring.${k}`, scenario: 'ceilings', label, value: v, unit: 'bodies/s', better: 'higher' });
    }
  }
  return out;
}

function holdErrors(run: ServerRun): number {
  return run.holds.reduce((a, h) => a + h.errors, 0);
}

/** Packets per CPU-second spent by the server and PostgreSQL during the hold, or null. */
function perCpuSecond(run: ServerRun): number | null {
  const c = run.cpu;
  if (c === null) return null;
  const cores = c.serverMain + c.serverOtherThreads + c.postgres;
  return cores > 0.01 ? Math.round(run.sustainedPerS / cores) : null;
}

/**
 * The cost side of a hold: packets per CPU-second of server + PostgreSQL. Other sessions on a
 * shared machine take cores away and lower the rates, but hardly change what each packet costs,
 * so these compare across runs and between receiver and peer even on a busy machine.
 */
function addEfficiency(add: (f: NewFigure) => void, p: string, scenario: string, s: ThroughputScenario, bounds: Bound[]): void {
  const r = perCpuSecond(s.receiver);
  const peer = s.peer === null ? null : perCpuSecond(s.peer);
  if (r !== null) add({ id: `${p}.receiver.packets_per_cpu_second`, scenario, label: 'receiver: packets per CPU-second of receiver + PostgreSQL', value: r, unit: 'packets/CPU-s', better: 'higher', bounds });
  if (peer !== null) add({ id: `${p}.peer.packets_per_cpu_second`, scenario, label: 'peer: packets per CPU-second of peer + PostgreSQL', value: peer, unit: 'packets/CPU-s', better: 'higher', bounds });
  if (r !== null && peer !== null) add({ id: `${p}.receiver_over_peer_per_cpu`, scenario, label: 'receiver ÷ peer, per CPU-second (cost, robust to other sessions)', value: round3(r / peer), unit: '×', better: 'higher' });
}

/** What the receiver acknowledged per second of the hold, beside what reached PostgreSQL (they differ when it acknowledged through its spool). */
function ackedFigure(id: string, scenario: string, run: ServerRun): NewFigure {
  const spool = run.spool === null || run.spool.appendsDuringHold === 0 ? '' : `; ${run.spool.appendsDuringHold} batches through the spool`;
  return {
    id,
    scenario,
    label: `receiver: packets/s acknowledged during the hold${spool}`,
    value: run.hold.eventsPerS,
    unit: 'packets/s',
    better: 'higher',
    bounds: [{ label: 'reached PostgreSQL during the hold', value: run.storedDuringHold?.perS }],
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** The figures of one target run; `withGoals` for the run in the target placement. */
function addTarget(add: (f: NewFigure) => void, t: TargetScenario, withGoals: boolean): void {
  const p = `target.${t.placement}`;
  const scenario = `target [${t.placement}]`;
  const floor = t.httpCeiling?.load.latencyMs;
  const r = t.receiver.load;
  const vis = t.receiver.visibility;
  const commit = t.receiver.commitFloor?.latencyMs;
  const commitBound = (p: 'p50' | 'p99' | 'p999', run = commit) => ({ label: `PostgreSQL one-row commit ${p === 'p999' ? 'p99.9' : p}`, value: run?.[p] });
  add({ id: `${p}.receiver.rate`, scenario, label: `receiver: packets/s acknowledged of ${t.ratePerS} offered`, value: r.eventsPerS, unit: 'packets/s', better: 'higher', bounds: [{ label: 'offered', value: t.ratePerS }] });
  add({ id: `${p}.receiver.ack_p50`, scenario, label: 'receiver: ack latency p50', value: r.latencyMs.p50, unit: 'ms', better: 'lower', bounds: [{ label: 'bare uWS p50', value: floor?.p50 }, commitBound('p50')] });
  add({
    id: `${p}.receiver.ack_p99`,
    scenario,
    label: 'receiver: ack latency p99',
    value: r.latencyMs.p99,
    unit: 'ms',
    better: 'lower',
    bounds: [{ label: 'bare uWS p99', value: floor?.p99 }, commitBound('p99')],
    goals: withGoals ? [{ text: 'p99 ≤ 20 ms', met: r.latencyMs.p99 <= 20 }] : [],
  });
  add({ id: `${p}.receiver.ack_p999`, scenario, label: 'receiver: ack latency p99.9', value: r.latencyMs.p999, unit: 'ms', better: 'lower', bounds: [{ label: 'bare uWS p99.9', value: floor?.p999 }, commitBound('p999')] });
  add({ id: `${p}.receiver.errors`, scenario, label: 'receiver: errors', value: r.errors, unit: 'count', better: 'lower', goals: withGoals ? [{ text: 'zero errors', met: r.errors === 0 }] : [] });
  if (vis !== null) {
    add({
      id: `${p}.receiver.visibility_p99`,
      scenario,
      label: `receiver: ack → row visible p99 (${vis.sampled} samples, ${vis.visibleOnFirstPoll} on the first poll)`,
      value: vis.visibilityMs.p99,
      unit: 'ms',
      better: 'lower',
      bounds: [{ label: 'probe SELECT p99', value: vis.queryRttMs.p99 }],
      goals: withGoals ? [{ text: 'p99 ≤ 250 ms, none missing', met: vis.visibilityMs.p99 <= 250 && vis.missing === 0 }] : [],
    });
  }
  if (t.peer !== null) {
    add({ id: `${p}.peer.ack_p99`, scenario, label: 'peer: ack latency p99', value: t.peer.load.latencyMs.p99, unit: 'ms', better: 'lower', bounds: [{ label: 'bare uWS p99', value: floor?.p99 }, commitBound('p99', t.peer.commitFloor?.latencyMs)] });
    if (t.peer.visibility !== null) {
      add({ id: `${p}.peer.visibility_p99`, scenario, label: 'peer: ack → row visible p99', value: t.peer.visibility.visibilityMs.p99, unit: 'ms', better: 'lower', bounds: [{ label: 'probe SELECT p99', value: t.peer.visibility.queryRttMs.p99 }] });
    }
  }
  if (commit !== undefined) {
    add({ id: `${p}.commit_floor.p99`, scenario, label: `PostgreSQL one-row commit p99 during the receiver's run (floor of a durable ack; ${t.receiver.commitFloor?.ratePerS}/s)`, value: commit.p99, unit: 'ms', better: 'lower' });
  }
  if (floor !== undefined) add({ id: `${p}.http_ceiling.ack_p99`, scenario, label: 'bare uWS (floor): ack latency p99', value: floor.p99, unit: 'ms', better: 'lower' });
}
