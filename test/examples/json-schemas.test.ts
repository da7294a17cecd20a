/**
 * docs/schemas/*.schema.json (JSON Schema 2020-12 for each §5 event type's `data`) say what
 * the receiver does: events the SDK produces pass them and are accepted by the real
 * receiver, and data the receiver rejects with `invalid_event` fails them. Edge values the
 * receiver accepts (int64 bounds as strings, 64 emoji in a VARCHAR(64)) pass them too.
 */
import { readdir, readFile } from 'node:fs/promises';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, GatewayEmitter, generateKeypair, TelemetryEmitter } from '../../src/sdk/index.js';
import {
  bearer,
  gatewayEvent,
  interactionEvent,
  INGEST_PATH,
  newAgent,
  postAgentBatch,
  postEvents,
  telemetryEvent,
  encodeJsonBatch,
  type CloudEvent,
  type PostResult,
} from '../helpers/agent.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { runCli, startReceiver, type RunningReceiver } from '../helpers/receiver.js';

const SCHEMA_DIR = new URL('../../docs/schemas/', import.meta.url);
const TYPES = Object.values(EVENT_TYPES);

const ajv = new Ajv2020({ strict: true, allErrors: true });
const validators = new Map<string, ValidateFunction>();

let db: TestDatabase;
let rx: RunningReceiver;
let apiKey: string;

beforeAll(async () => {
  for (const type of TYPES) {
    const schema = JSON.parse(await readFile(new URL(`${type}.schema.json`, SCHEMA_DIR), 'utf8')) as object;
    validators.set(type, ajv.compile(schema));
  }
  db = await createTestDatabase('json_schemas');
  rx = await startReceiver({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  const created = await runCli(['keys', 'create', '--tenant', 'schemas', '--name', 'schema-test', '--test'], { DATABASE_URL: db.url });
  expect(created.code, created.stderr).toBe(0);
  apiKey = created.stdout.trim().split('\n').pop() as string;
}, 90_000);

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

function validate(type: string, data: unknown): boolean {
  const v = validators.get(type);
  if (v === undefined) throw new Error(`no schema for ${type}`);
  return v(data);
}

/** Posts `events` (all of one endpoint) and returns, per event, the receiver's rejection code or 'accepted'. */
async function receiverVerdicts(endpoint: 'agent' | 'ingest', events: readonly CloudEvent[], agent = newAgent()): Promise<string[]> {
  const res: PostResult =
    endpoint === 'agent' ? await postAgentBatch(rx.url, agent, events) : await postEvents(rx.url, INGEST_PATH, encodeJsonBatch(events), bearer(apiKey));
  const body = res.json as { rejected?: { index: number; code: string }[]; error?: { code: string } } | null;
  expect([202, 400], res.text).toContain(res.status);
  if (res.status === 400) expect(body?.error?.code, res.text).toBe('no_valid_events');
  const verdicts = events.map(() => 'accepted');
  for (const r of body?.rejected ?? []) verdicts[r.index] = r.code;
  return verdicts;
}

/** One `data` change, described for the failure message. A field given as `undefined` is removed. */
type Case = [name: string, data: Record<string, unknown>];

const long = (n: number): string => 'x'.repeat(n);
const emoji = (n: number): string => '😀'.repeat(n);
const vendors = (n: number): Record<string, object> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, { attempts: 1 }]));
const errorTypes = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, 1]));

const INVALID: Record<string, Case[]> = {
  [EVENT_TYPES.agentInteraction]: [
    ['nonce missing', { nonce: undefined }],
    ['nonce above int64', { nonce: '9223372036854775808' }],
    ['nonce not an integer', { nonce: 1.5 }],
    ['nonce not decimal', { nonce: '12a' }],
    ['nonce over 20 characters', { nonce: '000000000000000000001' }],
    ['vendor_id missing', { vendor_id: undefined }],
    ['vendor_id empty', { vendor_id: '' }],
    ['vendor_id 65 characters', { vendor_id: long(65) }],
    ['vendor_id 65 emoji', { vendor_id: emoji(65) }],
    ['vendor_id with NUL', { vendor_id: 'a\u0000b' }],
    ['vendor_id with a lone surrogate', { vendor_id: 'a\ud800b' }],
    ['success a string', { success: 'true' }],
    ['success missing', { success: undefined }],
    ['latency_ms negative', { latency_ms: -1 }],
    ['latency_ms above int32', { latency_ms: 2147483648 }],
    ['latency_ms a string', { latency_ms: '42' }],
    ['amount_atomic negative', { amount_atomic: -1 }],
    ['amount_atomic negative string', { amount_atomic: '-5' }],
    ['amount_atomic exponent', { amount_atomic: '1e3' }],
    ['token_mint a number', { token_mint: 123 }],
    ['token_mint 65 characters', { token_mint: long(65) }],
    ['request_url 513 characters', { request_url: long(513) }],
    ['request_method 17 characters', { request_method: long(17) }],
    ['error_type 65 characters', { error_type: long(65) }],
    ['error_message 4097 characters', { error_message: long(4097) }],
    ['signature 129 characters', { signature: long(129) }],
  ],
  [EVENT_TYPES.agentTelemetry]: [
    ['period_end missing', { period_end: undefined }],
    ['period_start a string', { period_start: '100' }],
    ['period_end negative', { period_end: -1 }],
    ['period_end after year 9999', { period_start: 0, period_end: 253402300800 }],
    ['wallet not an object', { wallet: 'x' }],
    ['wallet balance negative', { wallet: { sol_balance_lamports: -1 } }],
    ['wallet balance above int64', { wallet: { usdc_balance_atomic: '9223372036854775808' } }],
    ['low_balance_warnings fractional', { wallet: { low_balance_warnings: 1.5 } }],
    ['interactions an array', { interactions: [] }],
    ['vendor stats not an object', { interactions: { v: 5 } }],
    ['vendor id empty', { interactions: { '': { attempts: 1 } } }],
    ['vendor id 65 characters', { interactions: { [long(65)]: { attempts: 1 } } }],
    ['attempts negative', { interactions: { v: { attempts: -1 } } }],
    ['spend_atomic not decimal', { interactions: { v: { spend_atomic: 'abc' } } }],
    ['error count a string', { interactions: { v: { errors: { timeout: '1' } } } }],
    ['error count null', { interactions: { v: { errors: { timeout: null } } } }],
    ['1001 vendors', { interactions: vendors(1001) }],
    ['101 error types', { interactions: { v: { errors: errorTypes(101) } } }],
    ['sdk_version 33 characters', { sdk_version: long(33) }],
  ],
  [EVENT_TYPES.gatewayRequest]: [
    ['gateway_id 65 characters', { gateway_id: long(65) }],
    ['route missing', { route: undefined }],
    ['route empty', { route: '' }],
    ['method 17 characters', { method: long(17) }],
    ['status_code 99', { status_code: 99 }],
    ['status_code 600', { status_code: 600 }],
    ['status_code a string', { status_code: '200' }],
    ['latency_ms fractional', { latency_ms: 3.5 }],
    ['agent_id 65 characters', { agent_id: long(65) }],
    ['amount_atomic above int64', { amount_atomic: '99999999999999999999' }],
    ['payment_verified a string', { payment_verified: 'yes' }],
    ['risk_score above 1', { risk_score: 1.5 }],
    ['risk_score negative', { risk_score: -0.1 }],
    ['risk_score a string', { risk_score: '0.5' }],
    ['error_code 65 characters', { error_code: long(65) }],
  ],
};

/** Values at the edges that the receiver accepts: the schemas must not be stricter. */
const EDGE_VALID: Record<string, Case[]> = {
  [EVENT_TYPES.agentInteraction]: [
    ['int64 maximum as a string', { amount_atomic: '9223372036854775807' }],
    ['nonce int64 minimum as a string', { nonce: '-9223372036854775808' }],
    ['nonce with leading zeros', { nonce: '00000000000000000007' }],
    ['vendor_id 64 emoji (128 UTF-16 units)', { vendor_id: emoji(64) }],
    ['error_message 4096 characters', { error_message: long(4096) }],
    ['optional fields null', { amount_atomic: null, token_mint: null, request_url: null, request_method: null }],
    ['optional text empty', { request_method: '' }],
    ['unknown fields ignored', { note: { any: 'thing' } }],
  ],
  [EVENT_TYPES.agentTelemetry]: [
    ['wallet null, interactions empty', { wallet: null, interactions: {} }],
    ['int64 wallet maximum as strings', { wallet: { sol_balance_lamports: '9223372036854775807', usdc_balance_atomic: 0, low_balance_warnings: null } }],
    ['1000 vendors', { interactions: vendors(1000) }],
    ['100 error types', { interactions: { v: { errors: errorTypes(100) } } }],
  ],
  [EVENT_TYPES.gatewayRequest]: [
    ['risk_score 0 and int64 maximum', { risk_score: 0, amount_atomic: '9223372036854775807' }],
    ['risk_score 1, optional nulls', { risk_score: 1, agent_id: null, payment_verified: null, error_code: null }],
    ['status_code 100, route 512 characters', { status_code: 100, route: long(512) }],
  ],
};

function buildEvents(type: string, cases: readonly Case[], agentId: string): CloudEvent[] {
  return cases.map(([, data], i) => {
    if (type === EVENT_TYPES.agentInteraction) return interactionEvent(agentId, { data });
    if (type === EVENT_TYPES.agentTelemetry) {
      // Distinct periods, so that every accepted report is a row of its own.
      const end = Math.floor(Date.now() / 1000) - 3600 - i * 60;
      return telemetryEvent(agentId, { data: { period_start: end - 60, period_end: end, ...data } });
    }
    return gatewayEvent({ data });
  });
}

describe('docs/schemas', () => {
  it('holds one draft 2020-12 schema per event type of docs/protocol.md §5, and ajv compiles each in strict mode', async () => {
    const files = (await readdir(SCHEMA_DIR)).filter((f) => f.endsWith('.schema.json')).sort();
    expect(files).toEqual(TYPES.map((t) => `${t}.schema.json`).sort());
    for (const type of TYPES) {
      const schema = JSON.parse(await readFile(new URL(`${type}.schema.json`, SCHEMA_DIR), 'utf8')) as Record<string, unknown>;
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(validators.get(type)).toBeTypeOf('function');
    }
  });

  it('accepts what the SDK sends, and the receiver accepts it too', async () => {
    const sent: CloudEvent[] = [];
    const answers: { status: number; body: string }[] = [];
    // The SDK's own fetch, watched: every body it sends is kept, then forwarded unchanged.
    const watching: typeof fetch = async (input, init) => {
      sent.push(...(JSON.parse(new TextDecoder().decode(init?.body as Uint8Array)) as CloudEvent[]));
      const res = await fetch(input, init);
      answers.push({ status: res.status, body: await res.clone().text() });
      return res;
    };
    const keypair = generateKeypair();
    const agent = new TelemetryEmitter({
      receiverUrl: rx.url,
      keypair,
      fetch: watching,
      encoding: 'json',
      gzip: false,
      telemetryIntervalMs: 0,
      walletProvider: () => ({ solBalanceLamports: 9223372036854775807n, usdcBalanceAtomic: 25_000_000n, lowBalanceWarnings: 2 }),
    });
    agent.start();
    agent.recordInteraction({ vendorId: 'weather', success: true, latencyMs: 12, amountAtomic: 9007199254740993n, nonce: 9223372036854775807n });
    agent.recordInteraction({
      vendorId: 'weather',
      success: false,
      latencyMs: 0,
      tokenMint: '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU',
      requestUrl: `https://api.example/${long(600)}`,
      requestMethod: 'POST',
      errorType: 'payment_failed',
      errorMessage: long(5000),
      signature: long(88),
    });
    agent.recordInteraction({ vendorId: emoji(64), success: true, latencyMs: 2147483647, amountAtomic: 0n });
    await agent.emitTelemetrySnapshot();
    const agentStats = await agent.stop();

    const gateway = new GatewayEmitter({ receiverUrl: rx.url, apiKey, fetch: watching, encoding: 'json', gzip: false });
    gateway.start();
    gateway.recordRequest({ gatewayId: 'gw-1', vendorId: 'weather', route: '/v1/forecast', method: 'GET', statusCode: 402, latencyMs: 3 });
    gateway.recordRequest({
      gatewayId: 'gw-1',
      vendorId: 'weather',
      route: `/${long(700)}`,
      method: 'GET',
      statusCode: 200,
      latencyMs: 35,
      agentId: keypair.agentId,
      amountAtomic: 9223372036854775807n,
      paymentVerified: true,
      riskScore: 1,
      errorCode: 'none',
    });
    const gatewayStats = await gateway.stop();

    expect(agentStats.sent).toBe(4);
    expect(gatewayStats.sent).toBe(2);
    for (const a of answers) {
      expect(a.status, a.body).toBe(202);
      expect((JSON.parse(a.body) as { rejected: unknown[] }).rejected).toEqual([]);
    }
    expect(sent.map((e) => e.type).sort()).toEqual([...Array(3).fill(EVENT_TYPES.agentInteraction), EVENT_TYPES.agentTelemetry, ...Array(2).fill(EVENT_TYPES.gatewayRequest)].sort());
    for (const e of sent) {
      const ok = validate(e.type, e.data);
      expect(ok, `${e.type} ${e.id}: ${ajv.errorsText(validators.get(e.type)?.errors)}`).toBe(true);
    }
  });

  for (const type of TYPES) {
    const endpoint = type === EVENT_TYPES.gatewayRequest ? 'ingest' : 'agent';

    it(`${type}: data the receiver rejects with invalid_event fails the schema`, async () => {
      const agent = newAgent();
      const cases: Case[] = [['valid', {}], ...(INVALID[type] ?? [])];
      const events = buildEvents(type, cases, agent.agentId);
      const verdicts = await receiverVerdicts(endpoint, events, agent);
      const table = cases.map(([name], i) => ({ name, receiver: verdicts[i], schema: validate(type, events[i]?.data) }));
      expect(table[0]).toEqual({ name: 'valid', receiver: 'accepted', schema: true });
      expect(table.slice(1).filter((r) => r.receiver !== 'invalid_event' || r.schema)).toEqual([]);
    });

    it(`${type}: edge values the receiver accepts pass the schema`, async () => {
      const agent = newAgent();
      const cases = EDGE_VALID[type] ?? [];
      const events = buildEvents(type, cases, agent.agentId);
      const verdicts = await receiverVerdicts(endpoint, events, agent);
      const table = cases.map(([name], i) => ({ name, receiver: verdicts[i], schema: validate(type, events[i]?.data) }));
      expect(table.filter((r) => r.receiver !== 'accepted' || !r.schema)).toEqual([]);
    });
  }
});
