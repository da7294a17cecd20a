/**
 * The Python example producer against the real receiver and PostgreSQL: a second-language
 * implementation of docs/protocol.md §2, §3, §5 and §6 whose rows must come out exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeypair, type AgentKeypair } from '../../src/sdk/index.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { runProducer, runPython, PRODUCER_SCRIPT } from './python-run.js';

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('python_producer');
  // A small per-agent bucket, so that one test can meet 429 and its Retry-After.
  rx = await startReceiver({ DATABASE_URL: db.url, AGENT_RATE_LIMIT: '2', AGENT_RATE_BURST: '2', LOG_LEVEL: 'warn' });
}, 90_000);

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

/** 2^53 + 1: the smallest integer a double cannot hold. */
const AMOUNT = 9007199254740993n;
/** Nonces near the top of int64, far beyond 2^53. */
const NONCE_START = 9223372036854775000n;
const VENDOR = 'vendor-weather';

interface InteractionRow {
  t: string;
  agent_id: string;
  vendor_id: string;
  nonce: string;
  amount_atomic: string | null;
  success: boolean;
  latency_ms: number;
  error_type: string | null;
  request_url: string | null;
  request_method: string | null;
}

function interactionRows(agentId: string): Promise<InteractionRow[]> {
  return query<InteractionRow>(
    db.url,
    `SELECT extract(epoch FROM time)::bigint::text AS t, agent_id, vendor_id, nonce::text AS nonce,
            amount_atomic::text AS amount_atomic, success, latency_ms, error_type, request_url, request_method
       FROM agent_interactions WHERE agent_id = $1 ORDER BY nonce`,
    [agentId],
  );
}

/** What send_events.py must have stored for `--interactions 5`: every fourth request fails. */
function expectedInteractions(agentId: string, at: number): InteractionRow[] {
  return [0, 1, 2, 3, 4].map((i) => {
    const success = i % 4 !== 3;
    return {
      t: String(at),
      agent_id: agentId,
      vendor_id: VENDOR,
      nonce: String(NONCE_START + BigInt(i)),
      amount_atomic: success ? String(AMOUNT) : null,
      success,
      latency_ms: 40 + i,
      error_type: success ? null : 'payment_timeout',
      request_url: 'https://api.weather.example/v1/forecast',
      request_method: 'GET',
    };
  });
}

async function telemetryRows(agentId: string, expectedInteractionsJson: string) {
  return query(
    db.url,
    `SELECT extract(epoch FROM time)::bigint::text AS t, sol_balance_lamports::text AS sol, usdc_balance_atomic::text AS usdc,
            low_balance_warnings, period_seconds, total_requests, total_payments, total_spend_atomic::text AS spend,
            interactions = $2::jsonb AS interactions_exact, interactions::text AS interactions, sdk_version
       FROM agent_telemetry WHERE agent_id = $1`,
    [agentId, expectedInteractionsJson],
  );
}

function producerArgs(at: number, extra: readonly string[] = []): string[] {
  return ['--url', rx.url, '--interactions', '5', '--amount-atomic', String(AMOUNT), '--nonce-start', String(NONCE_START), '--at', String(at), ...extra];
}

function fresh(): { keypair: AgentKeypair; secret: string } {
  const keypair = generateKeypair();
  return { keypair, secret: keypair.exportSecretKeyBase58() };
}

describe('examples/python/send_events.py → receiver → PostgreSQL', () => {
  it('has --help', async () => {
    const run = await runPython([PRODUCER_SCRIPT, '--help']);
    expect(run.code, run.stderr).toBe(0);
    for (const flag of ['--url', '--key-file', '--gzip', '--interactions', '--nonce-start', '--at']) expect(run.stdout).toContain(flag);
  });

  it('reads the same key as the SDK: its agent id is the SDK keypair agent id', async () => {
    const { keypair, secret } = fresh();
    const run = await runProducer(['--show-agent'], secret);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(keypair.agentId);
  });

  it('stores a signed batch exactly (int64 strings beyond 2^53), and a gzipped resend stores nothing twice', async () => {
    const { keypair, secret } = fresh();
    const at = Math.floor(Date.now() / 1000) - 10;
    const first = await runProducer(producerArgs(at), secret);
    expect(first.code, first.stderr).toBe(0);
    expect(first.summary).toMatchObject({ agent_id: keypair.agentId, events: 6, accepted: 6, rejected: [], refused: [], statuses: [202] });

    const vendorJson = `{"${VENDOR}":{"attempts":5,"success":4,"failures":1,"payment_latency_p50":42,"payment_latency_p99":44,"spend_atomic":${4n * AMOUNT},"errors":{"payment_timeout":1}}}`;
    const expectedTelemetry = [
      {
        t: String(at),
        sol: '1500000000',
        usdc: '25000000',
        low_balance_warnings: 0,
        period_seconds: 60,
        total_requests: 5,
        total_payments: 4,
        spend: String(4n * AMOUNT),
        interactions_exact: true,
        interactions: expect.any(String) as unknown,
        sdk_version: 'machpay-python-example/0.1.0',
      },
    ];
    expect(await interactionRows(keypair.agentId)).toEqual(expectedInteractions(keypair.agentId, at));
    expect(await telemetryRows(keypair.agentId, vendorJson)).toEqual(expectedTelemetry);

    // The same arguments rebuild the same events (same ids, nonces and period): duplicates
    // count as accepted (§6) and are not stored again, gzipped or not.
    const again = await runProducer(producerArgs(at, ['--gzip']), secret);
    expect(again.code, again.stderr).toBe(0);
    expect(again.summary).toMatchObject({ accepted: 6, rejected: [], refused: [], statuses: [202] });
    expect(await interactionRows(keypair.agentId)).toEqual(expectedInteractions(keypair.agentId, at));
    expect(await telemetryRows(keypair.agentId, vendorJson)).toEqual(expectedTelemetry);
  });

  it('waits out 429 rate_limited with its Retry-After and delivers every event once', async () => {
    const { keypair, secret } = fresh();
    const at = Math.floor(Date.now() / 1000) - 20;
    // One event per request: six requests against a bucket of two per second.
    const run = await runProducer(producerArgs(at, ['--batch-size', '1']), secret);
    expect(run.code, run.stderr).toBe(0);
    const summary = run.summary;
    expect(summary?.accepted).toBe(6);
    expect(summary?.statuses).toContain(429);
    expect(summary?.statuses.filter((s) => s === 202)).toHaveLength(6);
    expect(summary?.retries).toBe(summary?.statuses.filter((s) => s === 429).length);
    expect(run.stderr).toMatch(/429 rate_limited: waiting 1 s \(Retry-After\)/);
    expect(await interactionRows(keypair.agentId)).toEqual(expectedInteractions(keypair.agentId, at));
    const [count] = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM agent_telemetry WHERE agent_id = $1', [keypair.agentId]);
    expect(count?.n).toBe('1');
  });

  it('corrects a skewed clock from the Date of 401 timestamp_out_of_window and retries once', async () => {
    const { keypair, secret } = fresh();
    const at = Math.floor(Date.now() / 1000) - 30;
    const run = await runProducer(producerArgs(at, ['--clock-skew-ms', '600000']), secret);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({ accepted: 6, statuses: [401, 202], retries: 1 });
    expect(run.stderr).toContain('timestamp_out_of_window');
    expect(await interactionRows(keypair.agentId)).toEqual(expectedInteractions(keypair.agentId, at));
  });

  it('splits a batch refused with 413 too_many_events and delivers both halves', async () => {
    const small = await startReceiver({ DATABASE_URL: db.url, MAX_EVENTS: '4', LOG_LEVEL: 'warn' });
    try {
      const { keypair, secret } = fresh();
      const at = Math.floor(Date.now() / 1000) - 40;
      const run = await runProducer([...producerArgs(at), '--url', small.url], secret);
      expect(run.code, run.stderr).toBe(0);
      // Six events: refused whole, then sent as 3 + 3.
      expect(run.summary).toMatchObject({ accepted: 6, rejected: [], refused: [], statuses: [413, 202, 202] });
      expect(run.stderr).toContain('413 too_many_events: splitting 6 events into 3 + 3');
      expect(await interactionRows(keypair.agentId)).toEqual(expectedInteractions(keypair.agentId, at));
    } finally {
      await small.stop();
    }
  });

  it('reports a permanent refusal without retrying it and exits 1', async () => {
    const { keypair, secret } = fresh();
    const run = await runProducer(['--url', `${rx.url}/elsewhere`, '--interactions', '2'], secret);
    expect(run.code, run.stderr).toBe(1);
    expect(run.summary).toMatchObject({ accepted: 0, statuses: [404], retries: 0, refused: [{ status: 404, code: 'not_found', events: 3 }] });
    expect(await interactionRows(keypair.agentId)).toEqual([]);
  });
});
