/**
 * Producer-side helpers for tests: what an agent SDK or a gateway sends (docs/protocol.md §2–§5).
 *
 * Written from the protocol, independently of the receiver's code, so that tests built on
 * them check the receiver against the page and not against itself. Signing uses tweetnacl
 * (what a producer in any runtime has); node:crypto gives the same bytes (Ed25519 is
 * deterministic) and is offered for tests that sign many requests, as tweetnacl takes
 * milliseconds per signature.
 */
import { createPrivateKey, createPublicKey, randomBytes, randomUUID, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import nacl from 'tweetnacl';
import { base58Encode } from '../../src/protocol/index.js';

// ---------------------------------------------------------------------------------------
// §3 Agent identity and request signature
// ---------------------------------------------------------------------------------------

export interface TestAgent {
  /** tweetnacl form: 32-byte seed followed by the 32-byte public key. */
  readonly secretKey: Uint8Array;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The public key in base58 (Solana address form): `X-MachPay-Agent` and `data.agent_id`. */
  readonly agentId: string;
}

/** A new random agent, or the agent of a given 32-byte seed (for reproducible tests). */
export function newAgent(seed?: Uint8Array): TestAgent {
  const pair = seed === undefined ? nacl.sign.keyPair() : nacl.sign.keyPair.fromSeed(seed);
  return { secretKey: pair.secretKey, publicKey: pair.publicKey, agentId: base58Encode(pair.publicKey) };
}

export const AGENT_PATH = '/v1/agent';
export const INGEST_PATH = '/v1/ingest';

/** The §3 headers, lower-case as Node and fetch report them. */
export interface AgentSignatureHeaders {
  'x-machpay-agent': string;
  'x-machpay-timestamp': string;
  'x-machpay-signature': string;
  [name: string]: string;
}

const encoder = new TextEncoder();

/**
 * The signed bytes: ASCII `machpay-v1\n{timestamp}\n{path}\n`, then the body exactly as
 * transmitted (the gzip bytes when the request is gzipped).
 */
export function signedBytes(timestamp: string, path: string, body: Uint8Array): Uint8Array {
  const prefix = encoder.encode(`machpay-v1\n${timestamp}\n${path}\n`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

export interface SignOptions {
  /** Unix time in milliseconds; default now. Use it to test the ±300 s window. */
  timestampMs?: number;
  /** The request path that is signed; default `/v1/agent`. */
  path?: string;
  /** 'tweetnacl' (default, like a producer) or 'node' (OpenSSL, ~100× faster to sign). */
  signer?: 'tweetnacl' | 'node';
}

/** Headers that authenticate `body` (bytes as transmitted) from `agent` (§3). */
export function signAgentRequest(agent: TestAgent, body: Uint8Array, opts: SignOptions = {}): AgentSignatureHeaders {
  const timestamp = String(Math.trunc(opts.timestampMs ?? Date.now()));
  const message = signedBytes(timestamp, opts.path ?? AGENT_PATH, body);
  const signature =
    opts.signer === 'node' ? nodeSign(null, message, privateKeyObject(agent)) : nacl.sign.detached(message, agent.secretKey);
  return {
    'x-machpay-agent': agent.agentId,
    'x-machpay-timestamp': timestamp,
    'x-machpay-signature': Buffer.from(signature).toString('base64'),
  };
}

// DER headers that wrap a raw 32-byte Ed25519 key (RFC 8410) for node:crypto.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const privateKeys = new WeakMap<TestAgent, KeyObject>();
function privateKeyObject(agent: TestAgent): KeyObject {
  let key = privateKeys.get(agent);
  if (key === undefined) {
    const seed = agent.secretKey.subarray(0, 32);
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    privateKeys.set(agent, key);
  }
  return key;
}

/** A node:crypto public key from the raw 32 bytes. */
export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== 32) throw new Error(`an Ed25519 public key has 32 bytes, got ${publicKey.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** Verifies §3 headers over `body` with node:crypto (OpenSSL), independently of tweetnacl. */
export function verifyWithNodeCrypto(publicKey: Uint8Array, headers: AgentSignatureHeaders, body: Uint8Array, path = AGENT_PATH): boolean {
  const signature = Buffer.from(headers['x-machpay-signature'], 'base64');
  if (signature.length !== 64) return false;
  return nodeVerify(null, signedBytes(headers['x-machpay-timestamp'], path, body), publicKeyObject(publicKey), signature);
}

// ---------------------------------------------------------------------------------------
// §4 Gateway API keys
// ---------------------------------------------------------------------------------------

/** A well-formed key text, `mpk_live_…` or `mpk_test_…` + 32 random bytes in base64url (not registered anywhere). */
export function apiKeyText(environment: 'live' | 'test' = 'test'): string {
  return `mpk_${environment}_${randomBytes(32).toString('base64url')}`;
}

/** The §4 header for a gateway key. */
export function bearer(key: string): { authorization: string } {
  return { authorization: `Bearer ${key}` };
}

// ---------------------------------------------------------------------------------------
// §2, §5 CloudEvents
// ---------------------------------------------------------------------------------------

export const EVENT_TYPES = {
  interaction: 'com.machpay.agent.interaction.v1',
  telemetry: 'com.machpay.agent.telemetry.v1',
  gateway: 'com.machpay.gateway.request.v1',
} as const;

/** A structured-mode CloudEvent 1.0 as the receiver takes it: all five attributes plus `data`. */
export interface CloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time: string;
  data: Record<string, unknown>;
  [extension: string]: unknown;
}

/**
 * Changes to a built event. Top-level keys replace attributes; `data` is merged into the
 * default data key by key. A key given as `undefined` is removed, so tests can build an
 * event that lacks a required field: `interactionEvent(id, { data: { nonce: undefined } })`.
 */
export type EventOverrides = { [attribute: string]: unknown; data?: Record<string, unknown> };

function applyOverrides(event: CloudEvent, overrides: EventOverrides): CloudEvent {
  const { data, ...attributes } = overrides;
  const out: Record<string, unknown> = { ...event };
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  if (data !== undefined) {
    const merged: Record<string, unknown> = { ...event.data };
    for (const [k, v] of Object.entries(data)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    out.data = merged;
  }
  return out as CloudEvent;
}

/** RFC 3339 with milliseconds, UTC: `2025-01-31T12:00:00.123Z`. */
export function rfc3339(date: Date = new Date()): string {
  return date.toISOString();
}

// Nonces: unique per agent (§5 natural key). Seeded from the clock so two test processes,
// or two runs against one database, do not reuse them; stays below 2^53 for decades.
let nextNonce = Date.now() * 1000;

/** Devnet USDC mint, a realistic 44-character base58 value for `token_mint`. */
export const USDC_MINT = '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU';

/** One paid request by `agentId` (`com.machpay.agent.interaction.v1`), valid per §5. */
export function interactionEvent(agentId: string, overrides: EventOverrides = {}): CloudEvent {
  return applyOverrides(
    {
      specversion: '1.0',
      id: randomUUID(),
      source: `/agents/${agentId}`,
      type: EVENT_TYPES.interaction,
      time: rfc3339(),
      data: {
        agent_id: agentId,
        vendor_id: 'vendor-weather',
        nonce: nextNonce++,
        success: true,
        latency_ms: 42,
        amount_atomic: 1000,
        token_mint: USDC_MINT,
        request_url: 'https://api.weather.example/v1/forecast?city=Lisbon',
        request_method: 'GET',
      },
    },
    overrides,
  );
}

// Telemetry's natural key is (period_end, agent_id): each new report for an agent ends one
// minute before the previous one, so reports built in the same second stay distinct and
// never lie in the future.
const lastPeriodEnd = new Map<string, number>();

/** A periodic SDK health report (`com.machpay.agent.telemetry.v1`), valid per §5. */
export function telemetryEvent(agentId: string, overrides: EventOverrides = {}): CloudEvent {
  const now = Math.floor(Date.now() / 1000);
  const previous = lastPeriodEnd.get(agentId);
  const periodEnd = previous === undefined ? now : Math.min(now, previous - 60);
  lastPeriodEnd.set(agentId, periodEnd);
  return applyOverrides(
    {
      specversion: '1.0',
      id: randomUUID(),
      source: `/agents/${agentId}`,
      type: EVENT_TYPES.telemetry,
      time: rfc3339(),
      data: {
        agent_id: agentId,
        period_start: periodEnd - 60,
        period_end: periodEnd,
        wallet: { sol_balance_lamports: 1_500_000_000, usdc_balance_atomic: 25_000_000, low_balance_warnings: 0 },
        interactions: {
          'vendor-weather': {
            attempts: 12,
            success: 11,
            failures: 1,
            payment_latency_p50: 180,
            payment_latency_p99: 950,
            spend_atomic: 11_000,
            errors: { timeout: 1 },
          },
        },
        sdk_version: 'machpay-py/0.3.1',
      },
    },
    overrides,
  );
}

/** One request seen by a gateway (`com.machpay.gateway.request.v1`), valid per §5. */
export function gatewayEvent(overrides: EventOverrides = {}): CloudEvent {
  const gatewayId = typeof overrides.data?.gateway_id === 'string' ? overrides.data.gateway_id : 'gw-test-1';
  return applyOverrides(
    {
      specversion: '1.0',
      id: randomUUID(),
      source: `https://gateway.example.test/${gatewayId}`,
      type: EVENT_TYPES.gateway,
      time: rfc3339(),
      data: {
        gateway_id: gatewayId,
        vendor_id: 'vendor-weather',
        route: '/v1/forecast',
        method: 'GET',
        status_code: 200,
        latency_ms: 35,
        amount_atomic: 1000,
        payment_verified: true,
        risk_score: 0.05,
      },
    },
    overrides,
  );
}

/** The JSON body of a batch (`application/cloudevents-batch+json`). */
export function encodeJsonBatch(events: readonly CloudEvent[]): Uint8Array {
  return encoder.encode(JSON.stringify(events));
}

export const MEDIA_TYPES = {
  jsonBatch: 'application/cloudevents-batch+json',
  jsonSingle: 'application/cloudevents+json',
  msgpackBatch: 'application/cloudevents-batch+msgpack',
} as const;

// ---------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------

export interface PostResult {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or null when the body is empty or not JSON (see `text`). */
  json: unknown;
  text: string;
}

/** POSTs `body` (bytes as transmitted) to `baseUrl + path`; never throws on a non-2xx status. */
export async function postEvents(
  baseUrl: string,
  path: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<PostResult> {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const res = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'content-type': MEDIA_TYPES.jsonBatch, ...lower },
    body,
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Signs and sends `events` as one JSON batch from `agent` to `/v1/agent`. With `gzip`, the
 * body is gzipped and the signature covers the gzip bytes, as §3 requires.
 */
export async function postAgentBatch(
  baseUrl: string,
  agent: TestAgent,
  events: readonly CloudEvent[],
  opts: SignOptions & { gzip?: boolean } = {},
): Promise<PostResult> {
  const json = encodeJsonBatch(events);
  const body = opts.gzip === true ? new Uint8Array(gzipSync(json)) : json;
  const path = opts.path ?? AGENT_PATH;
  const headers: Record<string, string> = { ...signAgentRequest(agent, body, { ...opts, path }) };
  if (opts.gzip === true) headers['content-encoding'] = 'gzip';
  return postEvents(baseUrl, path, body, headers);
}
