/**
 * The remote mode of the benchmark (`npm run bench -- --url …`) against a real receiver that
 * it treats as remote: the command gets only the receiver's URL (and a key file or an API
 * key); the test alone looks in PostgreSQL, to check that every event the command reports as
 * accepted is a stored row.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, query, type MigratedDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { createIngestKey } from '../helpers/receiver-cluster.js';
import type { RemoteResult } from '../../bench/remote.js';

const BENCH_ENTRY = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));

function runBench(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BENCH_ENTRY, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Rows reach PostgreSQL at the latest when the spool catches up: wait until the count stops short of `expected` no longer. */
async function countWhenSettled(sql: string, params: unknown[], expected: number): Promise<number> {
  let n = -1;
  for (let i = 0; i < 50; i++) {
    n = Number((await query<{ n: string }>(pgdb.db.url, sql, params))[0]?.n ?? -1);
    if (n >= expected) break;
    await sleep(200);
  }
  return n;
}

let pgdb: MigratedDatabase;
let receiver: RunningReceiver;
let dir: string;

beforeAll(async () => {
  pgdb = await createMigratedDatabase('bench_remote', 2);
  receiver = await startReceiver({ DATABASE_URL: pgdb.db.url, LOG_LEVEL: 'warn' });
  dir = await mkdtemp(join(tmpdir(), 'bench-remote-'));
});

afterAll(async () => {
  await receiver?.stop();
  await pgdb?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('npm run bench -- --url (remote mode)', () => {
  it('signs agent events with the keys of a key file, and every event it reports accepted is a row', async () => {
    const keyFile = join(dir, 'agents.keys');
    await writeFile(keyFile, `# bench agents\n${Array.from({ length: 4 }, () => randomBytes(32).toString('hex')).join('\n')}\n`);
    const out = join(dir, 'agents.json');
    const run = await runBench([`--url=${receiver.url}`, `--key-file=${keyFile}`, '--duration=3', '--connections=4', '--batch-size=20', `--out=${out}`]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('not measured remotely');
    const r = JSON.parse(await readFile(out, 'utf8')) as RemoteResult;
    expect(r.mode).toBe('agent-batch');
    expect(r.agentIds).toHaveLength(4);
    expect(r.acceptedEvents).toBeGreaterThan(100);
    expect(r.acceptedEvents % 20).toBe(0);
    expect(r.byStatus['202']).toBe(r.acceptedEvents / 20);
    expect(r.errors).toBe(0);
    expect(r.ackLatencyMs.p50).toBeGreaterThan(0);
    expect(r.ackLatencyMs.max).toBeGreaterThanOrEqual(r.ackLatencyMs.p99);
    const rows = await countWhenSettled('SELECT count(*) AS n FROM agent_interactions WHERE agent_id = ANY($1)', [r.agentIds], r.acceptedEvents);
    expect(rows).toBe(r.acceptedEvents);
  });

  it('sends gateway events with an API key, and every event it reports accepted is a row', async () => {
    const apiKey = await createIngestKey(pgdb.db.url, 'bench-remote');
    const out = join(dir, 'gateway.json');
    // The key travels in the environment, not on the command line.
    const run = await runBench([`--url=${receiver.url}`, '--duration=2', '--connections=2', '--batch-size=10', `--out=${out}`], { BENCH_API_KEY: apiKey });
    expect(run.code).toBe(0);
    const saved = await readFile(out, 'utf8');
    expect(saved).not.toContain(apiKey);
    const r = JSON.parse(saved) as RemoteResult;
    expect(r.mode).toBe('gateway-batch');
    expect(r.acceptedEvents).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
    const rows = await countWhenSettled('SELECT count(*) AS n FROM gateway_telemetry WHERE event_source = $1', [r.gatewaySource], r.acceptedEvents);
    expect(rows).toBe(r.acceptedEvents);
  });

  it('counts refusals by status code instead of hiding them', async () => {
    const out = join(dir, 'refused.json');
    const run = await runBench([`--url=${receiver.url}`, '--duration=1', '--connections=1', '--batch-size=5', `--out=${out}`], { BENCH_API_KEY: `mpk_test_${randomBytes(32).toString('base64url')}` });
    expect(run.code).toBe(1);
    const r = JSON.parse(await readFile(out, 'utf8')) as RemoteResult;
    expect(r.acceptedEvents).toBe(0);
    expect(r.byStatus['401']).toBeGreaterThan(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errorSamples[0]).toContain('invalid_api_key');
  });
});
