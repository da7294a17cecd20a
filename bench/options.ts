import { parseArgs } from 'node:util';
import { tasksetAvailable, type PinMode } from './affinity.js';

export const SCENARIOS = ['target', 'max', 'per-packet-signed', 'mix', 'read', 'stream'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioName[];
  /** `target` duration in seconds. */
  durationS: number;
  /** max / per-packet-signed: seconds per ramp step and of the hold at the best level. */
  stepS: number;
  holdS: number;
  /** Holds per server in max / per-packet-signed, alternating receiver and peer; the median counts. */
  repeats: number;
  /** HTTP-ceiling runs (bare uWS) at the receiver's level. */
  ceilingS: number;
  mixS: number;
  targetRate: number;
  /** Placement of the main runs; `compare` repeats max and per-packet-signed in the other one. */
  pin: PinMode;
  /** Placement of the target scenario (its goal figure); `compare` repeats it in the other one. */
  targetPin: PinMode;
  compare: boolean;
  peer: boolean;
  peerPoolSize: number;
  copyRowsPerStream: number;
  /** Extra environment for the receiver (WORKERS, PG_POOL_SIZE, COPY_BATCH_ROWS, …). */
  receiverEnv: Record<string, string>;
  resultsDir: string | null;
  save: boolean;
  reportOnly: boolean;
  verbose: boolean;
  /** Debugging only: the figures then have no ceilings beside them. */
  skipCeilings: boolean;
  warmUpS: number;
  /** `--url`: load-test a deployment elsewhere instead of running the scenarios (bench/remote.ts). */
  remote: RemoteOptions | null;
}

export interface RemoteOptions {
  /** Origin of the deployment: http(s)://host:port, no path. */
  url: string;
  /** Agents' Ed25519 keys (bench/key-file.ts); null: `agents` fresh key pairs. */
  keyFile: string | null;
  agents: number;
  /** Gateway events on /v1/ingest with this key instead of signed agent events. */
  apiKey: string | null;
  /** Events per request: 1 sends single events, more sends batches. */
  batchSize: number;
  connections: number;
  durationS: number;
  /** Requests per second on an even schedule; null: closed loop (each connection sends as fast as it is answered). */
  ratePerS: number | null;
  /** Where to write the result as JSON; null: console only. */
  out: string | null;
}

export const USAGE = `npm run bench -- [options]      (or: node dist/bench/run.js [options])

Runs the benchmark scenarios against the receiver, the peer and the ceilings, all in one
PostgreSQL started for the run, and writes bench/results/<time>.json, latest.json and
report.md (with SVG charts). See bench/README.md.

  --quick                   every scenario ~10 s (whole run ~4 min instead of ~15)
  --scenarios=a,b           any of ${SCENARIOS.join(', ')} (default: all)
  --duration=S              target scenario seconds (default 60; 10 with --quick)
  --hold=S                  seconds per hold at the best level in max / per-packet-signed (default 12; 10 quick)
  --repeats=N               holds per server, receiver and peer alternating; the median counts (default 3; 1 quick)
  --step=S                  seconds per ramp step (default 4; 2 quick)
  --rate=N                  target scenario packets/s (default 1000)
  --pin=split|none          split: load generator on CPU 0, servers and PostgreSQL on the rest
                            (default when taskset exists); none: no pinning
  --target-pin=none|split   placement of the target scenario (default none: its fixed load
                            leaves the load generator little to take, and one core shared by
                            server and PostgreSQL turns its p99 into that core's scheduling)
  --compare / --no-compare  also run target, max and per-packet-signed in the other placement
                            (default: on for full runs, off with --quick)
  --no-peer                 skip the peer receiver
  --workers=N --pg-pool-size=N --copy-batch-rows=N
                            passed to the receiver as WORKERS, PG_POOL_SIZE, COPY_BATCH_ROWS
  --receiver-env=KEY=VALUE  any other receiver setting (repeatable)
  --results-dir=DIR         default bench/results
  --no-save                 do not write results or the report
  --report-only             re-render report.md from latest.json and the run before it
  --verbose                 print every ramp step even when stderr is not a terminal
  --skip-ceilings           debugging only: no native ceilings (figures lose their ratios)
  --help

Remote mode: load-test a deployment that is not on this machine (nothing is started here;
only what a client sees is reported). See bench/README.md "Remote mode".

  --url=https://host:port   the deployment's origin; selects remote mode
  --key-file=FILE           agents' Ed25519 keys, one per line (64 hex seed, 128 hex secret
                            key, or a Solana keypair JSON array); default --agents fresh keys
  --agents=N                fresh agents when there is no key file (default 64)
  --api-key=KEY             send gateway events to /v1/ingest with this key instead
                            (or the environment variable BENCH_API_KEY, kept out of ps)
  --batch-size=N            events per request; 1 sends single events (default 100)
  --connections=N           concurrent connections (default 16)
  --duration=S              seconds of load (default 30)
  --rate=N                  requests/s on an even schedule (default: closed loop)
  --out=FILE                also write the result as JSON
`;

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      hold: { type: 'string' },
      repeats: { type: 'string' },
      step: { type: 'string' },
      rate: { type: 'string' },
      pin: { type: 'string' },
      'target-pin': { type: 'string' },
      compare: { type: 'boolean' },
      'no-compare': { type: 'boolean' },
      'no-peer': { type: 'boolean', default: false },
      workers: { type: 'string' },
      'pg-pool-size': { type: 'string' },
      'copy-batch-rows': { type: 'string' },
      'receiver-env': { type: 'string', multiple: true },
      'results-dir': { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      'report-only': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'skip-ceilings': { type: 'boolean', default: false },
      url: { type: 'string' },
      'key-file': { type: 'string' },
      agents: { type: 'string' },
      'api-key': { type: 'string' },
      'batch-size': { type: 'string' },
      connections: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick;
  const int = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const scenarios = (values.scenarios ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${JSON.stringify(s)} (known: ${SCENARIOS.join(', ')})`);
  const pin = values.pin ?? (tasksetAvailable() ? 'split' : 'none');
  if (pin !== 'split' && pin !== 'none') throw new Error(`--pin must be split or none, got ${JSON.stringify(pin)}`);
  if (pin === 'split' && !tasksetAvailable()) throw new Error('--pin=split needs taskset (util-linux), which is not available');
  const targetPin = values['target-pin'] ?? 'none';
  if (targetPin !== 'split' && targetPin !== 'none') throw new Error(`--target-pin must be split or none, got ${JSON.stringify(targetPin)}`);
  if (targetPin === 'split' && !tasksetAvailable()) throw new Error('--target-pin=split needs taskset (util-linux), which is not available');
  const receiverEnv: Record<string, string> = {};
  if (values.workers !== undefined) receiverEnv.WORKERS = String(int('workers', values.workers, 1, 1));
  if (values['pg-pool-size'] !== undefined) receiverEnv.PG_POOL_SIZE = String(int('pg-pool-size', values['pg-pool-size'], 1, 1));
  if (values['copy-batch-rows'] !== undefined) receiverEnv.COPY_BATCH_ROWS = String(int('copy-batch-rows', values['copy-batch-rows'], 1, 1));
  for (const kv of values['receiver-env'] ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--receiver-env needs KEY=VALUE, got ${JSON.stringify(kv)}`);
    receiverEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const remote = values.url === undefined ? null : remoteOptions(values, int);
  return {
    quick,
    scenarios: scenarios as ScenarioName[],
    durationS: int('duration', values.duration, quick ? 10 : 60, 1),
    stepS: int('step', values.step, quick ? 2 : 4, 1),
    holdS: int('hold', values.hold, quick ? 10 : 12, 1),
    repeats: int('repeats', values.repeats, quick ? 1 : 3, 1),
    ceilingS: quick ? 5 : 10,
    mixS: quick ? 10 : 30,
    targetRate: int('rate', values.rate, 1000, 1),
    pin,
    targetPin,
    compare: values['no-compare'] === true ? false : (values.compare ?? !quick) && tasksetAvailable(),
    peer: !values['no-peer'],
    peerPoolSize: 4,
    copyRowsPerStream: quick ? 100_000 : 300_000,
    receiverEnv,
    resultsDir: values['results-dir'] ?? null,
    save: !values['no-save'],
    reportOnly: values['report-only'],
    verbose: values.verbose,
    skipCeilings: values['skip-ceilings'],
    warmUpS: quick ? 2 : 3,
    remote,
  };
}

type IntFlag = (name: string, raw: string | undefined, fallback: number, min: number) => number;

function remoteOptions(values: Record<string, string | boolean | string[] | undefined>, int: IntFlag): RemoteOptions {
  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const raw = str('url') as string;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url must be an http(s) origin such as https://host:8080, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--url must be http or https, got ${url.protocol}`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') throw new Error('--url takes an origin only (scheme, host, port): the request paths are /v1/agent and /v1/ingest');
  const apiKey = str('api-key') ?? process.env.BENCH_API_KEY ?? null;
  const keyFile = str('key-file') ?? null;
  if (apiKey !== null && keyFile !== null) throw new Error('--api-key (gateway events) and --key-file (agent events) exclude each other');
  const rate = str('rate');
  return {
    url: url.origin,
    keyFile,
    agents: int('agents', str('agents'), 64, 1),
    apiKey,
    batchSize: int('batch-size', str('batch-size'), 100, 1),
    connections: int('connections', str('connections'), 16, 1),
    durationS: int('duration', str('duration'), 30, 1),
    ratePerS: rate === undefined ? null : int('rate', rate, 0, 1),
    out: str('out') ?? null,
  };
}
