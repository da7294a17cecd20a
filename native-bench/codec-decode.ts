/**
 * Codec throughput: decodeAndEncode of a batch of 100 interaction events (decode,
 * validate, append COPY text rows), JSON beside MessagePack.
 *
 *   node dist/native-bench/codec-decode.js [--ms=150] [--rounds=5] [--results=native-bench/results/codec-decode.json] [--no-save]
 *
 * Ceilings, measured in the same run on the same bodies: the bare decoders (TextDecoder +
 * JSON.parse; msgpackr unpack) with no validation and no rows, i.e. what the codec would
 * cost if checking and encoding were free. "JSON, safe nonces" shows the cost of the
 * long-integer quoting pass that 64-bit nonces trigger.
 *
 * Time is the process's CPU time (process.cpuUsage), not wall time, and the modes take
 * turns within each round, so a busy machine (other builds, tests) skews them alike
 * instead of whichever mode ran during the spike. Each figure is the median of the rounds;
 * the previous run's figures, kept as JSON, are printed beside them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Packr, Unpackr } from 'msgpackr';
import { BodyKind, RowBatch, decodeAndEncode, type EventContext } from '../src/codec/index.js';
import { base58Encode, Endpoint } from '../src/protocol/index.js';

const EVENTS_PER_BODY = 100;

type ModeName = 'json' | 'jsonSafeInts' | 'msgpack' | 'jsonParseCeiling' | 'msgpackUnpackCeiling';
interface Figure {
  eventsPerSec: number;
  usPerRequest: number;
}
interface ResultsFile {
  date: string;
  node: string;
  bodyBytes: { json: number; msgpack: number };
  results: Partial<Record<ModeName, Figure>>;
}

const LABELS: Record<ModeName, string> = {
  json: 'JSON batch, decode+validate+COPY rows',
  jsonSafeInts: 'JSON batch, same with nonces < 2^53',
  msgpack: 'MessagePack batch, decode+validate+COPY rows',
  jsonParseCeiling: 'ceiling: TextDecoder + JSON.parse only',
  msgpackUnpackCeiling: 'ceiling: msgpackr unpack only',
};

const { values: args } = parseArgs({
  options: {
    ms: { type: 'string', default: '150' },
    rounds: { type: 'string', default: '5' },
    results: { type: 'string', default: 'native-bench/results/codec-decode.json' },
    'no-save': { type: 'boolean', default: false },
  },
});
const roundMs = Number(args.ms);
const rounds = Math.max(1, Number(args.rounds));

// ---------------------------------------------------------------- bodies

const agent = base58Encode(new Uint8Array(32).fill(7));
let seed = 12345;
/** Deterministic pseudo-random 63-bit nonces (xorshift), so runs compare. */
function nextU63(): bigint {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  const hi = BigInt(seed >>> 1);
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (hi << 32n) | BigInt(seed >>> 0);
}

function events(safeNonces: boolean): Record<string, unknown>[] {
  return Array.from({ length: EVENTS_PER_BODY }, (_, i) => ({
    specversion: '1.0',
    id: `0190d6f2-7c1e-7a3b-9f00-${String(i).padStart(12, '0')}`,
    source: 'urn:machpay:sdk:node:1.4.2',
    type: 'com.machpay.agent.interaction.v1',
    time: `2026-01-31T12:00:${String(i % 60).padStart(2, '0')}.123456Z`,
    data: {
      agent_id: agent,
      vendor_id: `vendor-${i % 7}`,
      request_url: `https://api.vendor${i % 7}.example.com/v1/search?q=item${i}`,
      request_method: 'GET',
      amount_atomic: 1500 + i,
      token_mint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
      nonce: safeNonces ? 1_000_000 + i : nextU63(),
      success: i % 10 !== 0,
      latency_ms: 20 + (i % 50),
      ...(i % 10 === 0 ? { error_type: 'timeout', error_message: 'upstream timed out after 30s' } : {}),
      signature: '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW',
    },
  }));
}

/** JSON text with BigInt values as bare number literals, as an SDK writing int64 exactly would send them. */
function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}\u0000` : v)).replace(/"\\u0000(-?\d+)\\u0000"/g, '$1');
}

const jsonBody = Buffer.from(toJsonText(events(false)));
const jsonSafeBody = Buffer.from(toJsonText(events(true)));
seed = 12345;
const msgpackBody = new Packr({ useRecords: false }).pack(events(false));

// ---------------------------------------------------------------- modes

const ctx: EventContext = { endpoint: Endpoint.Agent, agentId: agent, tenantId: null, maxEvents: 1000 };
const batch = new RowBatch(8 * 1024 * 1024);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const unpackr = new Unpackr({ int64AsType: 'string', useRecords: false, mapsAsObjects: true });
let sink = 0; // consumed results, so no work is optimised away

function codec(body: Uint8Array, kind: BodyKind): () => void {
  return () => {
    const r = decodeAndEncode(body, kind, null, ctx, batch);
    if (!r.ok || r.accepted !== EVENTS_PER_BODY) throw new Error(`bench body rejected: ${JSON.stringify(r)}`);
    // The sink drains the writers after each COPY; here, when they pass 4 MiB.
    if (batch.byteLength > 4 * 1024 * 1024) batch.reset();
  };
}

const MODES: Record<ModeName, () => void> = {
  json: codec(jsonBody, BodyKind.JsonBatch),
  jsonSafeInts: codec(jsonSafeBody, BodyKind.JsonBatch),
  msgpack: codec(msgpackBody, BodyKind.MsgpackBatch),
  jsonParseCeiling: () => {
    sink += (JSON.parse(utf8.decode(jsonBody)) as unknown[]).length;
  },
  msgpackUnpackCeiling: () => {
    sink += (unpackr.unpack(msgpackBody) as unknown[]).length;
  },
};

/** CPU microseconds (user + system) used by this process so far. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function round(fn: () => void): Figure {
  let requests = 0;
  const start = cpuMicros();
  let now = start;
  while (now - start < roundMs * 1000) {
    for (let i = 0; i < 20; i++) fn();
    requests += 20;
    now = cpuMicros();
  }
  const seconds = (now - start) / 1e6;
  return { eventsPerSec: (requests * EVENTS_PER_BODY) / seconds, usPerRequest: (seconds * 1e6) / requests };
}

function median(figures: Figure[]): Figure {
  return [...figures].sort((a, b) => a.eventsPerSec - b.eventsPerSec)[Math.floor(figures.length / 2)] as Figure;
}

// ---------------------------------------------------------------- run

let previous: ResultsFile | null = null;
if (existsSync(args.results)) {
  try {
    previous = JSON.parse(readFileSync(args.results, 'utf8')) as ResultsFile;
  } catch {
    previous = null;
  }
}

const names = Object.keys(MODES) as ModeName[];
for (const name of names) round(MODES[name]); // warm-up: JIT and buffer growth
const samples = new Map<ModeName, Figure[]>(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r++) {
  for (const name of names) samples.get(name)?.push(round(MODES[name]));
}
const results: Partial<Record<ModeName, Figure>> = {};
for (const name of names) results[name] = median(samples.get(name) ?? []);

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(11);
const prevFmt = (name: ModeName): string => {
  const p = previous?.results[name];
  return p === undefined ? '          -' : fmt(p.eventsPerSec);
};
console.log(
  `codec-decode: ${EVENTS_PER_BODY} interaction events per body; JSON ${jsonBody.length} B, MessagePack ${msgpackBody.length} B; ` +
    `node ${process.version}; CPU time, median of ${rounds} rounds`,
);
console.log(`${'mode'.padEnd(46)} ${'events/s'.padStart(11)} ${'µs/request'.padStart(11)} ${'previous'.padStart(11)}`);
for (const name of names) {
  const r = results[name] as Figure;
  console.log(`${LABELS[name].padEnd(46)} ${fmt(r.eventsPerSec)} ${r.usPerRequest.toFixed(1).padStart(11)} ${prevFmt(name)}`);
}
const json = results.json as Figure;
const mp = results.msgpack as Figure;
console.log(
  `side by side: JSON ${fmt(json.eventsPerSec).trim()} vs MessagePack ${fmt(mp.eventsPerSec).trim()} events/s ` +
    `(MessagePack ${(mp.eventsPerSec / json.eventsPerSec).toFixed(2)}x); codec at ` +
    `${((100 * json.eventsPerSec) / (results.jsonParseCeiling as Figure).eventsPerSec).toFixed(0)}% / ` +
    `${((100 * mp.eventsPerSec) / (results.msgpackUnpackCeiling as Figure).eventsPerSec).toFixed(0)}% of its bare decoder`,
);

if (!args['no-save']) {
  const file: ResultsFile = {
    date: new Date().toISOString(),
    node: process.version,
    bodyBytes: { json: jsonBody.length, msgpack: msgpackBody.length },
    results,
  };
  mkdirSync(dirname(args.results), { recursive: true });
  writeFileSync(args.results, JSON.stringify(file, null, 2) + '\n');
}
if (sink < 0) console.log(sink);
