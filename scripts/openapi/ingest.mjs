// The ingest side (docs/protocol.md §1–§6): POST /v1/agent, POST /v1/ingest, and the
// operational endpoints. Each event type's `data` schema is embedded from docs/schemas.
import { readFileSync } from 'node:fs';
import { AGENT_SIGNED, keyWith } from './common.mjs';
import { errorResponses } from './errors.mjs';

/** Component name → event type; its schema is docs/schemas/<type>.schema.json. */
export const EVENT_DATA_SCHEMAS = {
  InteractionData: 'com.machpay.agent.interaction.v1',
  TelemetryData: 'com.machpay.agent.telemetry.v1',
  GatewayRequestData: 'com.machpay.gateway.request.v1',
};

/**
 * A docs/schemas file as an OpenAPI component: without `$schema` and `$id` (the document
 * is one resource), its `#/$defs/…` references pointed at the component's own `$defs`, so
 * that tools which resolve references from the document root find them.
 * @param {Record<string, unknown>} schema
 * @param {string} name
 */
export function embedEventSchema(schema, name) {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  /** @param {unknown} node @returns {unknown} */
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/') ? `#/components/schemas/${name}/$defs/${v.slice('#/$defs/'.length)}` : rewrite(v),
      ]),
    );
  };
  return rewrite(rest);
}

function eventDataSchemas() {
  return Object.fromEntries(
    Object.entries(EVENT_DATA_SCHEMAS).map(([name, type]) => {
      const file = new URL(`../../docs/schemas/${type}.schema.json`, import.meta.url);
      return [name, embedEventSchema(JSON.parse(readFileSync(file, 'utf8')), name)];
    }),
  );
}

/** A CloudEvent of one type whose data follows one embedded schema. */
const eventOf = (/** @type {string} */ type, /** @type {string} */ data, /** @type {string} */ description) => ({
  description,
  allOf: [{ $ref: '#/components/schemas/CloudEvent' }, { properties: { type: { const: type }, data: { $ref: `#/components/schemas/${data}` } } }],
});

export function ingestSchemas() {
  return {
    ...eventDataSchemas(),
    CloudEvent: {
      description:
        'A CloudEvent 1.0 in structured mode (docs/protocol.md §2). (`source`, `id`) identifies it: a producer that sends it again reuses both and the receiver keeps one copy. Other attributes (`dataschema`, extensions) are allowed and ignored.',
      type: 'object',
      required: ['specversion', 'id', 'source', 'type', 'time', 'data'],
      properties: {
        specversion: { const: '1.0' },
        id: { type: 'string', minLength: 1, maxLength: 128 },
        source: { type: 'string', format: 'uri-reference', minLength: 1, maxLength: 256 },
        type: { type: 'string' },
        time: {
          type: 'string',
          format: 'date-time',
          description: "Mandatory in this protocol. Must not be more than 35 days older, nor 5 minutes newer, than the receiver's clock (v1.1; configurable).",
        },
        datacontenttype: { type: 'string' },
        dataschema: { type: 'string', format: 'uri' },
        data: { type: 'object' },
      },
    },
    InteractionEvent: eventOf('com.machpay.agent.interaction.v1', 'InteractionData', 'One paid request made by an agent → agent_interactions (docs/protocol.md §5).'),
    TelemetryEvent: eventOf('com.machpay.agent.telemetry.v1', 'TelemetryData', 'A periodic health report of the agent SDK → agent_telemetry (docs/protocol.md §5).'),
    GatewayRequestEvent: eventOf('com.machpay.gateway.request.v1', 'GatewayRequestData', 'One request seen by a gateway → gateway_telemetry (docs/protocol.md §5).'),
    AgentEvent: {
      description: 'An event /v1/agent accepts. Another type is rejected alone with `unknown_type`.',
      oneOf: [{ $ref: '#/components/schemas/InteractionEvent' }, { $ref: '#/components/schemas/TelemetryEvent' }],
    },
    IngestAccepted: {
      description:
        'At least one event was accepted, and every accepted event is durable (committed to PostgreSQL or fsynced to the local spool). An event already stored counts as accepted and is not stored again.',
      type: 'object',
      required: ['accepted', 'rejected'],
      properties: {
        accepted: { type: 'integer', minimum: 1 },
        rejected: { type: 'array', items: { $ref: '#/components/schemas/Rejection' } },
      },
    },
    Health: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
    Readiness: { type: 'object', required: ['status'], properties: { status: { const: 'ready' } } },
  };
}

const MAX_EVENTS = 'at most 1000 events (`MAX_EVENTS`)';

/** Headers of the CloudEvents HTTP binary mode, and Content-Encoding. */
export function ingestParameters() {
  const ce = (/** @type {string} */ name, /** @type {string} */ description, /** @type {Record<string, unknown>} */ schema) => ({
    name,
    in: 'header',
    description: `Binary mode only (Content-Type application/json): ${description} Required in binary mode except ce-time; printable ASCII, percent-encode anything else.`,
    schema,
  });
  return {
    ContentEncoding: {
      name: 'Content-Encoding',
      in: 'header',
      description: 'The body may be gzipped; the signature covers the gzip bytes as sent. At most 1 MiB as sent (`MAX_BODY_BYTES`), 8 MiB decompressed (`MAX_DECODED_BYTES`). A Content-Length is required (chunked bodies are refused with 400 `invalid_body`).',
      schema: { type: 'string', enum: ['gzip', 'identity'] },
    },
    CeSpecversion: ce('ce-specversion', 'the event’s specversion.', { const: '1.0' }),
    CeId: ce('ce-id', 'the event’s id.', { type: 'string', minLength: 1, maxLength: 128 }),
    CeSource: ce('ce-source', 'the event’s source.', { type: 'string', minLength: 1, maxLength: 256 }),
    CeType: ce('ce-type', 'the event’s type, which selects the schema of the body.', { type: 'string' }),
    CeTime: ce('ce-time', 'the event’s time (RFC 3339); the protocol makes it mandatory for the event to be valid.', { type: 'string', format: 'date-time' }),
  };
}

const ingestParams = ['ContentEncoding', 'CeSpecversion', 'CeId', 'CeSource', 'CeType', 'CeTime'].map((n) => ({ $ref: `#/components/parameters/${n}` }));

const WORKED_EXAMPLE = [
  {
    specversion: '1.0',
    id: 'example-0001',
    source: '/agents/FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF',
    type: 'com.machpay.agent.interaction.v1',
    time: '2026-01-01T00:00:00.000Z',
    data: {
      agent_id: 'FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF',
      vendor_id: 'vendor-weather',
      nonce: '9007199254740993',
      success: true,
      latency_ms: 42,
      amount_atomic: '9223372036854775807',
    },
  },
];

/** The four body forms of docs/protocol.md §2 for the events `item` names. */
function eventBodies(/** @type {string} */ item, /** @type {string[]} */ binaryData, /** @type {unknown} */ example) {
  const batch = { type: 'array', minItems: 1, maxItems: 1000, items: { $ref: `#/components/schemas/${item}` } };
  return {
    'application/cloudevents-batch+json': {
      schema: { ...batch, description: `A JSON array of structured-mode CloudEvents, ${MAX_EVENTS}.` },
      ...(example === undefined ? {} : { example }),
    },
    'application/cloudevents+json': { schema: { $ref: `#/components/schemas/${item}` } },
    'application/cloudevents-batch+msgpack': {
      schema: {
        ...batch,
        description: `A MessagePack array of maps keyed by the same attribute names as the JSON form, ${MAX_EVENTS}; int64 fields are MessagePack integers.`,
      },
    },
    'application/json': {
      schema: {
        description: 'CloudEvents HTTP binary mode: one event whose attributes are the ce-* headers and whose `data` is this body; ce-type selects the schema.',
        anyOf: binaryData.map((d) => ({ $ref: `#/components/schemas/${d}` })),
      },
    },
  };
}

const accepted = {
  description: 'At least one event accepted; the others are listed in `rejected`.',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/IngestAccepted' } } },
};

const INGEST_FAILURES = ['invalid_body', 'no_valid_events', 'body_too_large', 'too_many_events', 'not_storable', 'unsupported_media_type', 'unsupported_encoding', 'rate_limited', 'overloaded', 'not_ready'];

export function ingestPaths() {
  return {
    '/v1/agent': {
      post: {
        operationId: 'sendAgentEvents',
        tags: ['ingest'],
        summary: 'Send agent interactions and telemetry, signed by the agent',
        description:
          'Events of the types `com.machpay.agent.interaction.v1` and `com.machpay.agent.telemetry.v1` (docs/protocol.md §5), as a batch, a single event, MessagePack or binary mode (§2). The request is authenticated by the agent signature (§3), checked before the body is decompressed or parsed; every event’s `data.agent_id` must be the signing agent (else that event is rejected with `agent_mismatch`).',
        security: [AGENT_SIGNED],
        parameters: ingestParams,
        requestBody: { required: true, content: eventBodies('AgentEvent', ['InteractionData', 'TelemetryData'], WORKED_EXAMPLE) },
        responses: {
          202: accepted,
          ...errorResponses([...INGEST_FAILURES, 'missing_signature', 'bad_signature', 'timestamp_out_of_window'], { rejected: true, dateOn401: true }),
        },
      },
    },
    '/v1/ingest': {
      post: {
        operationId: 'sendGatewayEvents',
        tags: ['ingest'],
        summary: 'Send gateway request events, with an API key',
        description:
          'Events of the type `com.machpay.gateway.request.v1` (docs/protocol.md §5), in any of the body forms of §2. Every row carries the tenant of the API key (§4), which needs the `ingest` scope.',
        security: [keyWith('ingest')],
        parameters: ingestParams,
        requestBody: { required: true, content: eventBodies('GatewayRequestEvent', ['GatewayRequestData'], undefined) },
        responses: { 202: accepted, ...errorResponses([...INGEST_FAILURES, 'invalid_api_key'], { rejected: true }) },
      },
    },
    '/metrics': {
      get: {
        operationId: 'getPrometheusMetrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description: 'The Prometheus text exposition format, of the main thread and its workers together. Unauthenticated: expose it only where the scraper can reach it.',
        security: [],
        responses: {
          200: { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
          500: { description: 'The metrics could not be collected.', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'getHealth',
        tags: ['operations'],
        summary: 'Liveness',
        description: 'Answers 200 for as long as the process serves.',
        security: [],
        responses: { 200: { description: 'The process serves.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Readiness',
        description: 'Answers 200 only while the receiver could honestly answer an ingest request with a 2xx (docs/protocol.md §6), else 503 `not_ready` with Retry-After.',
        security: [],
        responses: {
          200: { description: 'Ready to accept events durably.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } } },
          ...errorResponses(['not_ready']),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        tags: ['operations'],
        summary: 'This document',
        security: [],
        responses: {
          200: { description: 'The OpenAPI 3.1 document of every endpoint.', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
  };
}
