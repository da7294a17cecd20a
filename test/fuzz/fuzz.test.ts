/**
 * The fuzz suite of docs/protocol.md §6: the kept corpus, then FUZZ_CASES (default 100 000)
 * generated hostile requests against a real receiver and PostgreSQL. Every response must
 * be one §6 allows, with §6's body shapes; the process must stay up, ready and serving; and
 * not one row may come from an invalid event (row-ledger.ts).
 *
 *   FUZZ_CASES=2000 npx vitest run test/fuzz          a quick run
 *   FUZZ_SEED=123456 …                                 reproduce a run (the seed is printed)
 *   FUZZ_CASE=4711 FUZZ_SEED=123456 …                  only that case of that run
 *   FUZZ_SAVE=0 …                                      do not add failing cases to corpus/found
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { RECEIVER_ENTRY, startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { agentFromSeed } from './agent-book.js';
import { generateCase } from './case-generator.js';
import { loadCorpus, saveFound, type CorpusEntry } from './corpus.js';
import { PERIOD_CASES, PERIOD_END_RANGE, buildValidEvent } from './event-model.js';
import { validEvent } from './event-mutations.js';
import { CONTENT_TYPES, b64 } from './events-case.js';
import type { FuzzCase, HttpCase } from './fuzz-case.js';
import { categoryTable, failureList, rawTable } from './fuzz-report.js';
import { FuzzRunner, rssMiB, type Failure } from './fuzz-run.js';
import { writeJson } from './json-writer.js';
import { Lane } from './http-client.js';
import type { ApiKeys } from './request-render.js';
import { PostgresWatch } from './postgres-watch.js';
import { makeRunEnv, type RunEnv } from './run-env.js';

const CASES = Number(process.env.FUZZ_CASES ?? 100_000);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const ONLY = process.env.FUZZ_CASE !== undefined ? Number(process.env.FUZZ_CASE) : null;
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 48);
const SAVE = process.env.FUZZ_SAVE !== '0';
/** Peak resident memory the receiver may reach under the fuzz load (ring 64 MiB, 8 MiB decode buffers per worker). */
const MAX_RSS_MIB = 1024;
/** ids of corpus cases and of the checks before and after, apart from the generated indices. */
const CORPUS_ID_BASE = 1_000_000_000;
const PROBE_ID = 2_000_000_000;
const PRIMARY_TENANT = 'fuzz';
const OPAQUE_TENANT = 'fuzz-opaque';

let db: TestDatabase;
let rx: RunningReceiver;
let keys: ApiKeys;
let env: RunEnv;
let runner: FuzzRunner;
/** A 503 is within the protocol only while PostgreSQL is really unavailable. */
let watch: PostgresWatch;
let corpus: CorpusEntry[] = [];
const started = performance.now();
let generatedMs = 0;
const probeFailures: string[] = [];

const run = promisify(execFile);
async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [RECEIVER_ENTRY, ...args], { env: { ...process.env, DATABASE_URL: db.url } });
  return stdout;
}
async function createKey(tenant: string, name: string): Promise<string> {
  return (await cli('keys', 'create', '--tenant', tenant, '--name', name)).trim().split('\n').pop() as string;
}

const EVENT_MAX_AGE_SECONDS = 3650 * 86_400;
const EVENT_MAX_FUTURE_SECONDS = 86_400;

/**
 * Generated telemetry is expected to be stored, which holds only while every period_end a
 * case can carry lies inside the receiver's window (an hour of margin at the old edge) and
 * no two cases of the run share keys (event-model.ts).
 */
function checkPeriodEnds(cases: number, nowSeconds: number): void {
  if (cases > PERIOD_CASES) throw new Error(`FUZZ_CASES=${cases}: at most ${PERIOD_CASES} cases have telemetry keys of their own (PERIOD_CASES in event-model.ts)`);
  const [first, last] = PERIOD_END_RANGE;
  if (first < nowSeconds - EVENT_MAX_AGE_SECONDS + 3600 || last > nowSeconds + EVENT_MAX_FUTURE_SECONDS) {
    throw new Error(`period ends ${first}..${last} are no longer inside the event-time window of the fuzz receiver: move PERIOD_END_BASE (event-model.ts) and rewrite the curated corpus`);
  }
}

/** A valid signed batch: sent before and after the run, it must get 202 and be stored. */
function probeCase(n: number): HttpCase {
  const agent = env.pool[n % env.pool.length] as RunEnv['pool'][number];
  const ident = { endpoint: 'agent' as const, agentId: agent.agentId, otherAgentId: '', role: 'pool' as const, caseIndex: PROBE_ID + n, runTag: env.runTag };
  const events = [0, 1].map((k) => validEvent(buildValidEvent('interaction', ident, k)));
  return {
    kind: 'http',
    category: 'probe',
    name: `valid signed batch #${n}`,
    method: 'POST',
    path: '/v1/agent',
    endpoint: 'agent',
    headers: [['content-type', CONTENT_TYPES['json-batch']]],
    body: b64(writeJson(events.map((e) => e.value))),
    auth: { mode: 'agent', seed: agent.seed },
    expect: { outcomes: ['accepted'], events: events.map((e) => e.expect) },
  };
}

/** Keeps failing cases for the corpus: one per distinct first problem, at most 30 a run. */
function keepFailures(failures: readonly Failure[], seed: number | undefined): string[] {
  if (!SAVE) return [];
  const seen = new Set<string>();
  const files: string[] = [];
  for (const f of failures) {
    if (f.caseId >= CORPUS_ID_BASE) continue;
    const signature = `${f.fuzzCase.category}:${(f.problems[0] ?? '').replace(/\d+/g, 'N').slice(0, 80)}`;
    if (seen.has(signature) || files.length >= 30) continue;
    seen.add(signature);
    files.push(saveFound({ note: f.fuzzCase.name, case: f.fuzzCase, ...(seed === undefined ? {} : { seed, index: f.caseId }), problems: f.problems }));
  }
  return files;
}

function failuresSince(n: number): Failure[] {
  return runner.failures.slice(n);
}

beforeAll(async () => {
  db = await createTestDatabase('fuzz');
  // A case's bytes, event times included, are fixed (event-model.ts), so the event-time window
  // of §2 is opened wide here; its edges are tested in test/codec/time-window.test.ts. The
  // 401s of the auth cases must not turn into 429s: the per-address limit of §3 is off.
  checkPeriodEnds(CASES, Date.now() / 1000);
  rx = await startReceiver({
    DATABASE_URL: db.url,
    WORKERS: '2',
    LOG_LEVEL: 'warn',
    EVENT_MAX_AGE_SECONDS: String(EVENT_MAX_AGE_SECONDS),
    EVENT_MAX_FUTURE_SECONDS: String(EVENT_MAX_FUTURE_SECONDS),
    AUTH_FAILURE_RATE_LIMIT: '0',
  });
  keys = { primary: await createKey(PRIMARY_TENANT, 'fuzz'), opaque: await createKey(OPAQUE_TENANT, 'fuzz-opaque'), revoked: await createKey('fuzz-revoked', 'revoked') };
  const listed = (await cli('keys', 'list', '--tenant', 'fuzz-revoked')).split('\n')[1]?.split('\t')[0] as string;
  await cli('keys', 'revoke', listed);
  env = makeRunEnv(SEED);
  corpus = ONLY === null ? loadCorpus() : [];
  watch = new PostgresWatch(db.url);
  watch.start();
  runner = new FuzzRunner({ port: rx.port, keys, child: rx.process, concurrency: CONCURRENCY, timeoutMs: 30_000, postgresDownDuring: (from, to) => watch.wasDownDuring(from, to) });
  console.log(`[fuzz] FUZZ_SEED=${SEED} FUZZ_CASES=${CASES} concurrency ${CONCURRENCY}; corpus ${corpus.length} cases; receiver pid ${rx.process.pid}, RSS ${rssMiB(rx.process.pid)} MiB`);
}, 120_000);

afterAll(async () => {
  runner?.close();
  if (runner !== undefined) {
    console.log(`[fuzz] FUZZ_SEED=${SEED}: ${categoryTable(runner)}\n${rawTable(runner)}`);
    console.log(
      `[fuzz] generated cases ${Math.round(generatedMs / 1000)} s (${Math.round((CASES * 1000) / Math.max(1, generatedMs))} cases/s), whole file ${Math.round((performance.now() - started) / 1000)} s; ` +
        `receiver RSS peak ${runner.peakRssMiB} MiB, now ${rssMiB(rx?.process.pid)} MiB; keep-alive resends ${runner.staleRetries}; ledger ${runner.ledger.registrations} events`,
    );
    if (runner.staleRetryCases.length > 0) console.log(`[fuzz] resent after a reused connection closed unanswered: ${runner.staleRetryCases.join(' | ')}`);
  }
  await watch?.stop();
  if (watch !== undefined) console.log(`[fuzz] PostgreSQL watch: ${watch.probes} probes, ${watch.outageCount} outages`);
  await rx?.stop();
  await db?.drop();
}, 120_000);

describe('fuzz: hostile requests get §6 answers, and no invalid event is stored', () => {
  it('accepts a valid signed batch before the run', async () => {
    const lane = new Lane(rx.port);
    await runner.runCase(probeCase(0), PROBE_ID, lane);
    lane.close();
    expect(failureList(runner)).toBe('');
  });

  it('replays the kept corpus (curated and previously failing cases)', { timeout: 300_000 }, async () => {
    const before = runner.failures.length;
    await runner.run(corpus.length, (i) => (corpus[i] as CorpusEntry).case, (i) => CORPUS_ID_BASE + i);
    const failed = failuresSince(before).map((f) => `${corpus[f.caseId - CORPUS_ID_BASE]?.file}: ${f.problems.join(' | ')}`.slice(0, 600));
    expect(failed).toEqual([]);
  });

  it(`survives ${ONLY === null ? CASES : 1} generated hostile requests within §6`, { timeout: 3_600_000 }, async () => {
    const before = runner.failures.length;
    const probe = setInterval(() => {
      getOnce(`${rx.url}/healthz`, 10_000).then(
        (r) => r.status !== 200 && probeFailures.push(`/healthz ${r.status} during the run`),
        (err: Error) => probeFailures.push(`/healthz did not answer during the run: ${err.message}`),
      );
    }, 5000);
    const t0 = performance.now();
    const count = ONLY === null ? CASES : 1;
    const make = (i: number): FuzzCase => generateCase(env, ONLY ?? i);
    try {
      await runner.run(count, make, (i) => ONLY ?? i, (done) => console.log(`[fuzz] ${done} cases, ${Math.round((performance.now() - t0) / 1000)} s, ${runner.failures.length} failures`));
    } finally {
      clearInterval(probe);
      generatedMs = performance.now() - t0;
    }
    const failures = failuresSince(before);
    const files = keepFailures(failures, SEED);
    if (failures.length > 0) console.log(`[fuzz] failures (FUZZ_SEED=${SEED}; kept as ${files.join(', ') || 'nothing'}):\n${failureList(runner)}`);
    expect(runner.receiverGone).toBeNull();
    expect(probeFailures).toEqual([]);
    expect(failures.map((f) => `case ${f.caseId} [${f.fuzzCase.category}] ${f.fuzzCase.name.slice(0, 120)}: ${f.problems.join(' | ')}`.slice(0, 600)).slice(0, 25)).toEqual([]);
  });

  it('is alive, ready, of reasonable size, and still accepts a signed batch', async () => {
    expect(runner.receiverGone).toBeNull();
    expect(runner.unsolicitedBytes).toBe(0);
    expect((await getOnce(`${rx.url}/healthz`, 10_000)).status).toBe(200);
    expect((await getOnce(`${rx.url}/readyz`, 10_000)).status).toBe(200);
    const before = runner.failures.length;
    const lane = new Lane(rx.port);
    await runner.runCase(probeCase(1), PROBE_ID + 1, lane);
    lane.close();
    expect(failuresSince(before).flatMap((f) => f.problems)).toEqual([]);
    const rss = rssMiB(rx.process.pid);
    console.log(`[fuzz] after the run: receiver RSS ${rss} MiB (peak ${runner.peakRssMiB} MiB)`);
    expect(runner.peakRssMiB).toBeLessThan(MAX_RSS_MIB);
  });

  it('stored not one row from an invalid event, and every acknowledged event', { timeout: 300_000 }, async () => {
    const knownAgents = new Set([...env.pool, ...env.edge, ...env.opaque].map((a) => a.agentId));
    for (const e of corpus) {
      if (e.case.kind === 'http' && e.case.auth.mode === 'agent') knownAgents.add(agentFromSeed(e.case.auth.seed).agentId);
      if (e.case.kind === 'raw') for (const w of e.case.writes) for (const p of w) if ('signed' in p) knownAgents.add(agentFromSeed(p.signed.seed).agentId);
    }
    const { problems, rows } = await runner.ledger.verify(db.url, {
      agents: new Set(env.opaque.map((a) => a.agentId)),
      tenant: OPAQUE_TENANT,
      primaryTenant: PRIMARY_TENANT,
      knownAgents,
      run: { runTag: env.runTag, agents: new Set([...env.pool, ...env.edge].map((a) => a.agentId)) },
    });
    console.log(`[fuzz] rows stored: ${JSON.stringify(rows)}; ledger problems ${problems.length}`);
    if (problems.length > 0 && ONLY === null) {
      const failing = [...new Set(problems.flatMap((p) => (p.caseId !== null && p.caseId < CORPUS_ID_BASE ? [p.caseId] : [])))].slice(0, 30);
      keepFailures(
        failing.map((id) => ({ caseId: id, fuzzCase: generateCase(env, id), problems: problems.filter((p) => p.caseId === id).map((p) => p.text) })),
        SEED,
      );
    }
    expect(problems.map((p) => `${p.caseId === null ? '' : `case ${p.caseId}: `}${p.text}`).slice(0, 25)).toEqual([]);
  });
});
