/**
 * The requests the load generator sends, built per request with string templates (no
 * object graphs, no JSON.stringify on the hot path) and signed with node:crypto. Every
 * event is unique: a fresh nonce per agent and an id derived from it, so nothing is
 * deduplicated and the rows can be counted exactly.
 */
import { binaryModeSignedLines, SIGNED_BINARY_MODE_HEADERS } from '../src/protocol/index.js';
import { gzipSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { AGENT_PATH, agentHeaders, signBytes, signText, type Agent, type AgentSet } from './agents.js';

export type TableName = 'agent_interactions' | 'agent_telemetry' | 'gateway_telemetry';

/** Identifies one stored row, for the visibility probe. */
export interface ProbeKey {
  agentId: string;
  nonce: number;
  time: string;
}

export interface BenchRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  events: number;
  kind: RequestKind;
  table: TableName;
  /** The last interaction of the request, when it carries interactions. */
  probe: ProbeKey | null;
}

export type RequestKind =
  | 'json-batch'
  | 'json-single'
  | 'msgpack-batch'
  | 'gzip-json-batch'
  | 'gzip-msgpack-batch'
  | 'telemetry-batch'
  | 'binary-single'
  | 'gateway-batch';

export interface RequestSource {
  next(): BenchRequest;
}

const SOURCE = 'urn:machpay:bench';
const MINT = 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v';
const PAYMENT_SIG = '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW';
const BATCH_JSON = 'application/cloudevents-batch+json';
const BATCH_MSGPACK = 'application/cloudevents-batch+msgpack';
const SINGLE_JSON = 'application/cloudevents+json';

/** The `data` of an interaction event as JSON text: ~350 bytes, one in ten a failure with an error message. */
function interactionData(agentId: string, n: number): string {
  const v = n % 7;
  const failed = n % 10 === 0;
  return (
    `{"agent_id":"${agentId}","vendor_id":"vendor-${v}","request_url":"https://api.vendor${v}.example.com/v1/search?q=item${n}",` +
    `"request_method":"GET","amount_atomic":${1500 + (n % 1000)},"token_mint":"${MINT}","nonce":${n},"success":${!failed},` +
    `"latency_ms":${20 + (n % 480)},` +
    (failed ? `"error_type":"timeout","error_message":"upstream timed out after 30s",` : '') +
    `"signature":"${PAYMENT_SIG}"}`
  );
}

function interactionEvent(agentId: string, n: number, time: string): string {
  return `{"specversion":"1.0","id":"${agentId}-${n}","source":"${SOURCE}","type":"com.machpay.agent.interaction.v1","time":"${time}","data":${interactionData(agentId, n)}}`;
}

/** The same event as a plain object, for MessagePack. */
function interactionObject(agentId: string, n: number, time: string): Record<string, unknown> {
  const v = n % 7;
  const failed = n % 10 === 0;
  const data: Record<string, unknown> = {
    agent_id: agentId,
    vendor_id: `vendor-${v}`,
    request_url: `https://api.vendor${v}.example.com/v1/search?q=item${n}`,
    request_method: 'GET',
    amount_atomic: 1500 + (n % 1000),
    token_mint: MINT,
    nonce: n,
    success: !failed,
    latency_ms: 20 + (n % 480),
    signature: PAYMENT_SIG,
  };
  if (failed) {
    data.error_type = 'timeout';
    data.error_message = 'upstream timed out after 30s';
  }
  return { specversion: '1.0', id: `${agentId}-${n}`, source: SOURCE, type: 'com.machpay.agent.interaction.v1', time, data };
}

function jsonBatchText(agent: Agent, size: number, time: string): { text: string; last: number } {
  let text = '[';
  let n = 0;
  for (let i = 0; i < size; i++) {
    n = agent.nonce++;
    text += (i === 0 ? '' : ',') + interactionEvent(agent.id, n, time);
  }
  return { text: text + ']', last: n };
}

const packr = new Packr({ useRecords: false });

function msgpackBatch(agent: Agent, size: number, time: string): { bytes: Uint8Array; last: number } {
  const events: Record<string, unknown>[] = new Array(size);
  let n = 0;
  for (let i = 0; i < size; i++) {
    n = agent.nonce++;
    events[i] = interactionObject(agent.id, n, time);
  }
  return { bytes: packr.pack(events), last: n };
}

export function jsonBatchRequest(agents: AgentSet, size: number): BenchRequest {
  const agent = agents.take();
  const ts = String(Date.now());
  const time = new Date().toISOString();
  const { text, last } = jsonBatchText(agent, size, time);
  const { body, signature } = signText(agent, text, ts);
  return {
    path: AGENT_PATH,
    headers: agentHeaders(agent, ts, signature, BATCH_JSON),
    body,
    events: size,
    kind: 'json-batch',
    table: 'agent_interactions',
    probe: { agentId: agent.id, nonce: last, time },
  };
}

export function singleRequest(agents: AgentSet): BenchRequest {
  const agent = agents.take();
  const ts = String(Date.now());
  const time = new Date().toISOString();
  const n = agent.nonce++;
  const { body, signature } = signText(agent, interactionEvent(agent.id, n, time), ts);
  return {
    path: AGENT_PATH,
    headers: agentHeaders(agent, ts, signature, SINGLE_JSON),
    body,
    events: 1,
    kind: 'json-single',
    table: 'agent_interactions',
    probe: { agentId: agent.id, nonce: n, time },
  };
}

function binarySingleRequest(agents: AgentSet): BenchRequest {
  const agent = agents.take();
  const ts = String(Date.now());
  const time = new Date().toISOString();
  const n = agent.nonce++;
  const ce = { 'ce-specversion': '1.0', 'ce-id': `${agent.id}-${n}`, 'ce-source': SOURCE, 'ce-type': 'com.machpay.agent.interaction.v1', 'ce-time': time };
  // Binary mode signs its ce-* header lines between the prefix and the body (docs/protocol.md §3).
  const lines = binaryModeSignedLines(SIGNED_BINARY_MODE_HEADERS.map((h) => ce[h]));
  const signed = signText(agent, lines + interactionData(agent.id, n), ts);
  const body = signed.body.subarray(Buffer.byteLength(lines));
  return {
    path: AGENT_PATH,
    headers: { ...agentHeaders(agent, ts, signed.signature, 'application/json'), ...ce },
    body,
    events: 1,
    kind: 'binary-single',
    table: 'agent_interactions',
    probe: { agentId: agent.id, nonce: n, time },
  };
}

function msgpackRequest(agents: AgentSet, size: number, gzip: boolean): BenchRequest {
  const agent = agents.take();
  const ts = String(Date.now());
  const time = new Date().toISOString();
  const { bytes, last } = msgpackBatch(agent, size, time);
  // Level 1: producers that compress per request pick a cheap level; the receiver's cost (inflate) barely depends on it.
  const wire = gzip ? gzipSync(bytes, { level: 1 }) : bytes;
  const { body, signature } = signBytes(agent, wire, ts);
  const headers = agentHeaders(agent, ts, signature, BATCH_MSGPACK);
  if (gzip) headers['content-encoding'] = 'gzip';
  return { path: AGENT_PATH, headers, body, events: size, kind: gzip ? 'gzip-msgpack-batch' : 'msgpack-batch', table: 'agent_interactions', probe: { agentId: agent.id, nonce: last, time } };
}

function gzipJsonRequest(agents: AgentSet, size: number): BenchRequest {
  const agent = agents.take();
  const ts = String(Date.now());
  const time = new Date().toISOString();
  const { text, last } = jsonBatchText(agent, size, time);
  const { body, signature } = signBytes(agent, gzipSync(Buffer.from(text), { level: 1 }), ts);
  const headers = agentHeaders(agent, ts, signature, BATCH_JSON);
  headers['content-encoding'] = 'gzip';
  return { path: AGENT_PATH, headers, body, events: size, kind: 'gzip-json-batch', table: 'agent_interactions', probe: { agentId: agent.id, nonce: last, time } };
}

/** Periodic SDK reports: the row's time is period_end, unique per agent. */
function telemetryRequest(agents: AgentSet, size: number, baseSeconds: number): BenchRequest {
  const agent = agents.take();
  const ts = String(Date.now());
  const time = new Date().toISOString();
  let text = '[';
  for (let i = 0; i < size; i++) {
    const end = baseSeconds + agent.period++;
    text +=
      (i === 0 ? '' : ',') +
      `{"specversion":"1.0","id":"${agent.id}-t${end}","source":"${SOURCE}","type":"com.machpay.agent.telemetry.v1","time":"${time}",` +
      `"data":{"agent_id":"${agent.id}","period_start":${end - 60},"period_end":${end},` +
      `"wallet":{"sol_balance_lamports":${1_000_000_000 + i},"usdc_balance_atomic":${5_000_000 + i},"low_balance_warnings":0},` +
      `"interactions":{"vendor-1":{"attempts":12,"success":11,"failures":1,"payment_latency_p50":21,"payment_latency_p99":87,"spend_atomic":16500,"errors":{"timeout":1}},` +
      `"vendor-2":{"attempts":3,"success":3,"failures":0,"payment_latency_p50":30,"payment_latency_p99":44,"spend_atomic":4500}},"sdk_version":"bench-1.0.0"}}`;
  }
  const { body, signature } = signText(agent, text + ']', ts);
  return { path: AGENT_PATH, headers: agentHeaders(agent, ts, signature, BATCH_JSON), body, events: size, kind: 'telemetry-batch', table: 'agent_telemetry', probe: null };
}

/** Gateway requests on /v1/ingest with an API key; (source, id) is the natural key. */
function gatewayRequest(apiKey: string, source: string, size: number, seq: { n: number }): BenchRequest {
  const time = new Date().toISOString();
  let text = '[';
  for (let i = 0; i < size; i++) {
    const n = seq.n++;
    text +=
      (i === 0 ? '' : ',') +
      `{"specversion":"1.0","id":"req-${n}","source":"${source}","type":"com.machpay.gateway.request.v1","time":"${time}",` +
      `"data":{"gateway_id":"gw-${n % 3}","vendor_id":"vendor-${n % 7}","route":"/v1/search","method":"GET","status_code":${n % 20 === 0 ? 402 : 200},` +
      `"latency_ms":${5 + (n % 90)},"amount_atomic":1500,"payment_verified":${n % 20 !== 0},"risk_score":0.${n % 10}}}`;
  }
  return {
    path: '/v1/ingest',
    headers: { 'content-type': BATCH_JSON, authorization: `Bearer ${apiKey}` },
    body: Buffer.from(text + ']'),
    events: size,
    kind: 'gateway-batch',
    table: 'gateway_telemetry',
    probe: null,
  };
}

export function batchSource(agents: AgentSet, size: number): RequestSource {
  return { next: () => jsonBatchRequest(agents, size) };
}

export function singleSource(agents: AgentSet): RequestSource {
  return { next: () => singleRequest(agents) };
}

/** Gateway batches of `size` on /v1/ingest; `source` keeps this run's (source, id) keys apart from any other run's. */
export function gatewaySource(apiKey: string, source: string, size: number): RequestSource {
  const seq = { n: 0 };
  return { next: () => gatewayRequest(apiKey, source, size, seq) };
}

/** The request kinds of the `mix` scenario, one of each per cycle. */
export const MIX_KINDS: readonly RequestKind[] = [
  'json-batch',
  'msgpack-batch',
  'gzip-json-batch',
  'gzip-msgpack-batch',
  'telemetry-batch',
  'json-single',
  'binary-single',
  'gateway-batch',
];

export function mixSource(agents: AgentSet, apiKey: string, gatewaySource: string, batchSize: number): RequestSource {
  let i = 0;
  const seq = { n: 0 };
  const base = Math.floor(Date.now() / 1000) - 86_400;
  return {
    next: () => {
      const kind = MIX_KINDS[i++ % MIX_KINDS.length] as RequestKind;
      switch (kind) {
        case 'json-batch':
          return jsonBatchRequest(agents, batchSize);
        case 'msgpack-batch':
          return msgpackRequest(agents, batchSize, false);
        case 'gzip-json-batch':
          return gzipJsonRequest(agents, batchSize);
        case 'gzip-msgpack-batch':
          return msgpackRequest(agents, batchSize, true);
        case 'telemetry-batch':
          return telemetryRequest(agents, 10, base);
        case 'json-single':
          return singleRequest(agents);
        case 'binary-single':
          return binarySingleRequest(agents);
        case 'gateway-batch':
          return gatewayRequest(apiKey, gatewaySource, batchSize, seq);
      }
    },
  };
}
