/**
 * docs/openapi.json (docs/read-api.md §8) is a valid OpenAPI 3.1 document, is what
 * scripts/openapi/build.mjs writes, names every error code the code answers with at its
 * status, and describes what the receiver really answers: real responses of a running
 * receiver (ingest) and of the read routes validate against the document's schemas.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import pg from 'pg';
import { pino } from 'pino';
import uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireInTransaction, registerAlertRoutes } from '../../src/alerts/index.js';
import { createApiKey } from '../../src/api-keys/index.js';
import { EVENT_ERROR_CODES, REQUEST_ERRORS } from '../../src/protocol/index.js';
import { registerReadRoutes } from '../../src/read/index.js';
import { registerStreamRoutes, type StreamRoutes } from '../../src/stream/index.js';
import { registerWebhookRoutes, type WebhookAuthenticator } from '../../src/webhooks/index.js';
import {
  bearer,
  encodeJsonBatch,
  gatewayEvent,
  interactionEvent,
  INGEST_PATH,
  newAgent,
  postAgentBatch,
  postEvents,
  signAgentRequest,
  telemetryEvent,
  type TestAgent,
} from '../helpers/agent.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

const DOC_FILE = new URL('../../docs/openapi.json', import.meta.url);
const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/openapi/build.mjs', import.meta.url));
const DOC_ID = 'urn:machpay:openapi';

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}

const doc = JSON.parse(await readFile(DOC_FILE, 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  webhooks: Json;
  components: { schemas: Record<string, Json> } & Json;
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function operations(): { path: string; method: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ path, method, op })),
  );
}

/** Every code of the one error table (src/protocol), with its status. */
const CODE_STATUS = new Map<string, number>(Object.entries(REQUEST_ERRORS).map(([code, e]) => [code, e.status]));

/** The codes of ingest: those of the docs/protocol.md §6 table. */
const protocolDoc = await readFile(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const INGEST_CODES = new Set(
  protocolDoc
    .slice(protocolDoc.indexOf('## 6.'))
    .split('\n')
    .filter((line) => /^\| \d{3} \|/.test(line))
    .flatMap((line) => (line.split('|')[2]?.split('(')[0]?.match(/`([a-z_]+)`/g) ?? []).map((c) => c.slice(1, -1))),
);

/** Codes of a response schema built as allOf [Error, {properties: {error: {properties: {code: {enum}}}}}]. */
function codesOf(schema: Json | undefined): string[] {
  const parts = (schema?.allOf as Json[] | undefined) ?? [];
  for (const part of parts) {
    const error = (part.properties as Json | undefined)?.error as Json | undefined;
    const code = (error?.properties as Json | undefined)?.code as { enum?: string[] } | undefined;
    if (code?.enum !== undefined) return code.enum;
  }
  return [];
}

/** Every Schema Object of the document: components, parameters, headers, request and response bodies. */
function schemaObjects(): { where: string; schema: Json }[] {
  const out: { where: string; schema: Json }[] = Object.entries(doc.components.schemas).map(([name, schema]) => ({ where: name, schema }));
  const visit = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${where}/${i}`));
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'schema' && v !== null && typeof v === 'object') out.push({ where: `${where}/schema`, schema: v as Json });
      else visit(v, `${where}/${k}`);
    }
  };
  const { schemas: _schemas, ...rest } = doc.components;
  visit({ paths: doc.paths, webhooks: doc.webhooks, components: rest }, '#');
  return out;
}

function jsonPointer(...parts: string[]): string {
  return parts.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
// ajv-formats is CommonJS: under NodeNext its default import is the module object.
(formatsPlugin as unknown as { default: (a: Ajv2020) => void }).default(ajv);
ajv.addSchema({ $id: DOC_ID, components: doc.components, paths: doc.paths });
const compiled = new Map<string, ValidateFunction>();

/** The validator of one documented response body; fails the test when it is not documented. */
function responseSchema(path: string, method: string, status: number, mediaType = 'application/json'): ValidateFunction {
  const op = doc.paths[path]?.[method];
  expect(op, `${method} ${path} is documented`).toBeDefined();
  const content = op?.responses[String(status)]?.content;
  expect(content?.[mediaType]?.schema, `${method} ${path} documents ${status} ${mediaType}`).toBeDefined();
  const ref = `${DOC_ID}#${jsonPointer('paths', path, method, 'responses', String(status), 'content', mediaType, 'schema')}`;
  let v = compiled.get(ref);
  if (v === undefined) {
    v = ajv.compile({ $ref: ref });
    compiled.set(ref, v);
  }
  return v;
}

interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

/** Checks that `answer` is a documented response of `method path`, body and media type. */
function expectDocumented(method: string, path: string, answer: Answer, expectedStatus: number, expectedCode?: string): void {
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.json)}`).toBe(expectedStatus);
  if (expectedCode !== undefined) expect((answer.json as { error?: { code?: string } }).error?.code).toBe(expectedCode);
  const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  const validate = responseSchema(path, method, answer.status, mediaType);
  const ok = validate(answer.json);
  expect(ok, `${method} ${path} ${answer.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.json)}`).toBe(true);
}

describe('the document', () => {
  it('is what scripts/openapi/build.mjs writes from its parts and docs/schemas', async () => {
    const run = promisify(execFile);
    await expect(run(process.execPath, [BUILD_SCRIPT, '--check'])).resolves.toBeDefined();
  });

  it('validates as OpenAPI 3.1, references included', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is refused by the same validator when it is broken (the check can fail)', async () => {
    const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, Json>> };
    (broken.paths['/v1/agent']?.post as Json).responses = { 202: { description: 'x', content: { 'application/json': { schema: { $ref: '#/components/schemas/Nowhere' } } } } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
    const noDescription = structuredClone(doc) as unknown as { paths: Record<string, Record<string, { responses: Record<string, Json> }>> };
    delete noDescription.paths['/healthz']?.get?.responses['200']?.description;
    expect((await new Validator().validate(noDescription)).valid).toBe(false);
  });

  it('holds only schemas valid under the JSON Schema 2020-12 meta-schema (which the OpenAPI validator does not check)', () => {
    const schemas = schemaObjects();
    expect(schemas.length).toBeGreaterThan(100);
    for (const { where, schema } of schemas) expect(ajv.validateSchema(schema), `${where}: ${ajv.errorsText(ajv.errors)}`).toBe(true);
    expect(ajv.validateSchema({ type: 'strin' })).toBe(false);
  });

  it('has response schemas that refuse what the receiver must not answer', () => {
    expect(responseSchema('/v1/agent', 'post', 202)({ accepted: 1, rejected: [] })).toBe(true);
    expect(responseSchema('/v1/agent', 'post', 202)({ accepted: 0, rejected: [] })).toBe(false);
    expect(responseSchema('/v1/agent', 'post', 202)({ accepted: 1, rejected: [{ index: 0, id: null, code: 'not_a_code', message: '' }] })).toBe(false);
    expect(responseSchema('/v1/ingest', 'post', 401)({ error: { code: 'invalid_api_key', message: 'no' } })).toBe(true);
    expect(responseSchema('/v1/ingest', 'post', 401)({ error: { code: 'bad_signature', message: 'no' } })).toBe(false);
    expect(responseSchema('/v1/agent/history', 'get', 200)({ data: [], next_cursor: null })).toBe(true);
    expect(responseSchema('/v1/agent/history', 'get', 200)({ data: [{ time: 'yesterday' }], next_cursor: null })).toBe(false);
  });

  it('has request schemas that take the events producers send and refuse invalid ones, as docs/schemas does', () => {
    const batch = (path: string): ValidateFunction =>
      ajv.compile({ $ref: `${DOC_ID}#${jsonPointer('paths', path, 'post', 'requestBody', 'content', 'application/cloudevents-batch+json', 'schema')}` });
    const agentBatch = batch('/v1/agent');
    const id = newAgent().agentId;
    expect(agentBatch([interactionEvent(id), telemetryEvent(id)]), ajv.errorsText(agentBatch.errors)).toBe(true);
    expect(agentBatch([interactionEvent(id, { data: { latency_ms: -1 } })])).toBe(false);
    expect(agentBatch([interactionEvent(id, { data: { nonce: '9223372036854775808' } })])).toBe(false);
    expect(agentBatch([gatewayEvent()])).toBe(false);
    const example = (doc.paths['/v1/agent']?.post as unknown as { requestBody: { content: Record<string, { example: unknown }> } }).requestBody.content[
      'application/cloudevents-batch+json'
    ]?.example;
    expect(agentBatch(example), ajv.errorsText(agentBatch.errors)).toBe(true);
    const gatewayBatch = batch('/v1/ingest');
    expect(gatewayBatch([gatewayEvent()]), ajv.errorsText(gatewayBatch.errors)).toBe(true);
    expect(gatewayBatch([gatewayEvent({ data: { status_code: 42 } })])).toBe(false);
  });

  it('gives every operation a unique operationId', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents the ingest endpoints of docs/protocol.md §1 and the read endpoints of docs/read-api.md', () => {
    const documented = operations().map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    for (const route of [
      'POST /v1/agent',
      'POST /v1/ingest',
      'GET /metrics',
      'GET /healthz',
      'GET /readyz',
      'GET /openapi.json',
      'POST /v1/link/init',
      'POST /v1/link/confirm',
      'DELETE /v1/agents/{agent_id}/link',
      'GET /v1/agents',
      'GET /v1/agent/metrics',
      'GET /v1/agent/vendors',
      'GET /v1/agent/history',
      'GET /v1/agent/balance',
      'GET /v1/gateway/metrics',
      'GET /v1/agent/events',
      'POST /v1/stream/tokens',
      'GET /v1/agent/settings',
      'PUT /v1/agent/settings',
      'GET /v1/agent/alerts',
      'POST /v1/agent/alerts/{id}/ack',
      'POST /v1/webhooks',
      'GET /v1/webhooks',
      'DELETE /v1/webhooks/{id}',
      'GET /v1/webhooks/{id}/deliveries',
    ]) {
      expect(documented, route).toContain(route);
    }
  });
});

describe('error codes', () => {
  const entries = (doc.components.schemas.ErrorCode?.oneOf ?? []) as { const: string; 'x-http-status': number }[];

  it('lists every code of the error table at its status, and no other', () => {
    const listed = new Map(entries.map((e) => [e.const, e['x-http-status']]));
    for (const [code, status] of CODE_STATUS) expect(listed.get(code), code).toBe(status);
    for (const code of listed.keys()) expect(CODE_STATUS.has(code), `${code} is a code the receiver has`).toBe(true);
  });

  it('names every per-event code of rejected[].code', () => {
    const listed = ((doc.components.schemas.EventErrorCode?.oneOf ?? []) as { const: string }[]).map((e) => e.const);
    expect(listed.sort()).toEqual([...EVENT_ERROR_CODES].sort());
  });

  it('puts each code an operation lists under the status the code has', () => {
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        for (const code of codesOf(response.content?.['application/json']?.schema)) {
          expect(CODE_STATUS.get(code), `${method} ${path} ${status} ${code}`).toBe(Number(status));
        }
      }
    }
  });

  it('documents every ingest code on the ingest operations at its status, and every read code on some operation', () => {
    const where = new Map<string, Set<string>>();
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        for (const code of codesOf(response.content?.['application/json']?.schema)) {
          where.set(code, (where.get(code) ?? new Set()).add(`${method} ${path} ${status}`));
        }
      }
    }
    const ingest = (code: string): string[] => [...(where.get(code) ?? [])].filter((w) => w.startsWith('post /v1/agent ') || w.startsWith('post /v1/ingest '));
    // Routing answers (unknown path, known path with another method) belong to no operation.
    const routing = new Set(['not_found', 'method_not_allowed']);
    expect(INGEST_CODES.size).toBeGreaterThan(10);
    for (const [code, e] of Object.entries(REQUEST_ERRORS)) {
      if (routing.has(code) || !INGEST_CODES.has(code)) continue;
      expect(ingest(code).length, `${code} on /v1/agent or /v1/ingest`).toBeGreaterThan(0);
      for (const w of ingest(code)) expect(w.endsWith(` ${e.status}`)).toBe(true);
    }
    for (const code of Object.keys(REQUEST_ERRORS)) {
      if (code === 'method_not_allowed' || INGEST_CODES.has(code)) continue;
      expect(where.has(code), `${code} on some operation`).toBe(true);
    }
  });
});

describe('real answers of the receiver', () => {
  let db: TestDatabase;
  let rx: RunningReceiver;
  let apiKey: string;
  const agent = newAgent();

  beforeAll(async () => {
    db = await createTestDatabase('openapi');
    rx = await startReceiver({ DATABASE_URL: db.url, MAX_BODY_BYTES: '4096', MAX_EVENTS: '3', LOG_LEVEL: 'warn' });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      apiKey = (await createApiKey(client, { tenantId: 'openapi-tenant', name: 'gateway', test: true })).key;
    } finally {
      await client.end();
    }
  });
  afterAll(async () => {
    await rx?.stop();
    await db?.drop();
  });

  it('202 with rejected events, on /v1/agent and /v1/ingest', async () => {
    const other = newAgent();
    const mixed = await postAgentBatch(rx.url, agent, [
      interactionEvent(agent.agentId),
      interactionEvent(other.agentId),
      interactionEvent(agent.agentId, { type: 'com.example.unknown.v1' }),
    ]);
    expectDocumented('post', '/v1/agent', mixed, 202);
    expect((mixed.json as { rejected: unknown[] }).rejected).toHaveLength(2);
    const gateway = await postEvents(rx.url, INGEST_PATH, encodeJsonBatch([gatewayEvent(), gatewayEvent({ data: { status_code: 42 } })]), bearer(apiKey));
    expectDocumented('post', '/v1/ingest', gateway, 202);
  });

  it('400 no_valid_events with rejected, and invalid_body', async () => {
    const none = await postAgentBatch(rx.url, agent, [interactionEvent(agent.agentId, { data: { latency_ms: -1 } })]);
    expectDocumented('post', '/v1/agent', none, 400, 'no_valid_events');
    const body = new TextEncoder().encode('[{"specversion":');
    expectDocumented('post', '/v1/agent', await postEvents(rx.url, '/v1/agent', body, signAgentRequest(agent, body)), 400, 'invalid_body');
  });

  it('401 for a missing or bad signature and for an unknown API key', async () => {
    const body = encodeJsonBatch([interactionEvent(agent.agentId)]);
    expectDocumented('post', '/v1/agent', await postEvents(rx.url, '/v1/agent', body), 401, 'missing_signature');
    const forged = { ...signAgentRequest(agent, body), 'x-machpay-agent': newAgent().agentId };
    expectDocumented('post', '/v1/agent', await postEvents(rx.url, '/v1/agent', body, forged), 401, 'bad_signature');
    const stale = signAgentRequest(agent, body, { timestampMs: Date.now() - 3_600_000 });
    const late = await postEvents(rx.url, '/v1/agent', body, stale);
    expectDocumented('post', '/v1/agent', late, 401, 'timestamp_out_of_window');
    expect(late.headers.get('date')).not.toBeNull();
    const unknownKey = await postEvents(rx.url, INGEST_PATH, encodeJsonBatch([gatewayEvent()]), bearer(`mpk_test_${'A'.repeat(43)}`));
    expectDocumented('post', '/v1/ingest', unknownKey, 401, 'invalid_api_key');
  });

  it('413 for a body over MAX_BODY_BYTES and for more than MAX_EVENTS events', async () => {
    const big = encodeJsonBatch([interactionEvent(agent.agentId, { data: { error_message: 'x'.repeat(5000) } })]);
    expectDocumented('post', '/v1/agent', await postEvents(rx.url, '/v1/agent', big, signAgentRequest(agent, big)), 413, 'body_too_large');
    const many = await postAgentBatch(rx.url, agent, [1, 2, 3, 4].map(() => interactionEvent(agent.agentId)));
    expectDocumented('post', '/v1/agent', many, 413, 'too_many_events');
  });

  it('415 for an unsupported media type or encoding', async () => {
    const body = encodeJsonBatch([interactionEvent(agent.agentId)]);
    const text = await postEvents(rx.url, '/v1/agent', body, { ...signAgentRequest(agent, body), 'content-type': 'text/plain' });
    expectDocumented('post', '/v1/agent', text, 415, 'unsupported_media_type');
    const brotli = await postEvents(rx.url, '/v1/agent', body, { ...signAgentRequest(agent, body), 'content-encoding': 'br' });
    expectDocumented('post', '/v1/agent', brotli, 415, 'unsupported_encoding');
  });

  it('the operational endpoints', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(rx.url + path);
      expectDocumented('get', path, { status: res.status, headers: res.headers, json: await res.json() }, 200);
    }
    const served = await fetch(`${rx.url}/openapi.json`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')?.split(';')[0]).toBe('application/json');
    expect(await served.json()).toEqual(doc);
    const metrics = await fetch(`${rx.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(responseSchema('/metrics', 'get', 200, (metrics.headers.get('content-type') ?? '').split(';')[0]?.trim())(await metrics.text())).toBe(true);
  });

  it('routing answers use the shared error body and the status of their code', async () => {
    const error = ajv.compile({ $ref: `${DOC_ID}#/components/schemas/Error` });
    const entries = (doc.components.schemas.ErrorCode?.oneOf ?? []) as { const: string; 'x-http-status': number }[];
    for (const [path, method] of [
      ['/nowhere', 'GET'],
      ['/v1/agent', 'GET'],
    ] as const) {
      const res = await fetch(rx.url + path, { method });
      const body = (await res.json()) as { error: { code: string } };
      expect(error(body), ajv.errorsText(error.errors)).toBe(true);
      expect(entries.find((e) => e.const === body.error.code)?.['x-http-status']).toBe(res.status);
    }
  });

  describe('read routes on the same database', () => {
    let base: string;
    let socket: uWS.us_listen_socket;
    let pool: pg.Pool;
    let stream: StreamRoutes | undefined;
    const keys: Record<'read' | 'admin' | 'ingest' | 'otherAdmin', string> = { read: '', admin: '', ingest: '', otherAdmin: '' };

    beforeAll(async () => {
      pool = new pg.Pool({ connectionString: db.url, max: 4 });
      const client = await pool.connect();
      try {
        const make = async (tenant: string, scopes: string[]): Promise<string> => {
          const { record, key } = await createApiKey(client, { tenantId: tenant, name: scopes.join('+'), test: true });
          await client.query('UPDATE api_keys SET scopes = $2 WHERE id = $1', [record.id, scopes]);
          return key;
        };
        keys.read = await make('openapi-tenant', ['read']);
        keys.admin = await make('openapi-tenant', ['admin']);
        keys.ingest = await make('openapi-tenant', ['ingest']);
        keys.otherAdmin = await make('other-tenant', ['admin']);
      } finally {
        client.release();
      }
      const app = uWS.App();
      registerReadRoutes(app, { pool, log: pino({ level: 'silent' }) });
      registerAlertRoutes(app, { pool, log: pino({ level: 'silent' }) });
      stream = registerStreamRoutes(app, { pool, log: pino({ level: 'silent' }), secret: Buffer.alloc(32, 7), listen: false });
      // The webhook routes take the server's key authentication as a function: a table of this test's keys.
      const principals = new Map([
        [keys.read, { tenantId: 'openapi-tenant', scopes: ['read'] }],
        [keys.admin, { tenantId: 'openapi-tenant', scopes: ['read', 'admin'] }],
      ]);
      const authenticate: WebhookAuthenticator = async (headers) =>
        principals.get(/^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1] ?? '') ?? { status: 401, code: 'invalid_api_key' };
      registerWebhookRoutes(app, { pool, authenticate, allowPrivateUrls: true, log: pino({ level: 'silent' }) });
      socket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
        app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('read routes did not listen')) : resolve(s))),
      );
      base = `http://127.0.0.1:${uWS.us_socket_local_port(socket)}`;
      // Rows for the history and balance: through the receiver, as producers write them.
      const sent = await postAgentBatch(rx.url, agent, [
        interactionEvent(agent.agentId, { data: { amount_atomic: '9223372036854775807', error_type: null } }),
        interactionEvent(agent.agentId, { data: { success: false, error_type: 'timeout', error_message: 'upstream timed out' } }),
        telemetryEvent(agent.agentId),
      ]);
      expect(sent.status).toBe(202);
    });
    afterAll(async () => {
      await stream?.close();
      if (socket !== undefined) uWS.us_listen_socket_close(socket);
      await pool?.end();
    });

    async function call(method: string, pathAndQuery: string, auth: string | TestAgent | null, body?: unknown): Promise<Answer> {
      const text = body === undefined ? '' : JSON.stringify(body);
      const headers: Record<string, string> = text === '' ? {} : { 'content-type': 'application/json' };
      if (typeof auth === 'string') headers.authorization = `Bearer ${auth}`;
      else if (auth !== null) Object.assign(headers, signAgentRequest(auth, new TextEncoder().encode(text), { path: pathAndQuery, signer: 'node' }));
      const res = await fetch(base + pathAndQuery, text === '' ? { method, headers } : { method, headers, body: text });
      const raw = await res.text();
      return { status: res.status, headers: res.headers, json: raw === '' ? null : (JSON.parse(raw) as unknown) };
    }

    it('linking: init, confirm, another tenant, a bad code, unlink', async () => {
      const init = await call('POST', '/v1/link/init', agent, { name: 'openapi agent' });
      expectDocumented('post', '/v1/link/init', init, 201);
      const code = (init.json as { code: string }).code;
      expectDocumented('post', '/v1/link/init', await call('POST', '/v1/link/init', keys.admin, {}), 403, 'forbidden');
      expectDocumented('post', '/v1/link/confirm', await call('POST', '/v1/link/confirm', keys.admin, { code }), 200);
      const again = (await call('POST', '/v1/link/init', agent, {})).json as { code: string };
      expectDocumented('post', '/v1/link/confirm', await call('POST', '/v1/link/confirm', keys.otherAdmin, { code: again.code }), 409, 'already_linked');
      expectDocumented('post', '/v1/link/confirm', await call('POST', '/v1/link/confirm', keys.admin, { code: 'ZZZZ-ZZZZ' }), 400, 'invalid_link_code');
      expectDocumented('post', '/v1/link/confirm', await call('POST', '/v1/link/confirm', keys.admin, { code, colour: 'blue' }), 400, 'invalid_request');

      const spare = newAgent();
      const spareCode = ((await call('POST', '/v1/link/init', spare)).json as { code: string }).code;
      expect((await call('POST', '/v1/link/confirm', keys.admin, { code: spareCode })).status).toBe(200);
      const unlinked = await call('DELETE', `/v1/agents/${spare.agentId}/link`, keys.admin);
      expect(unlinked.status).toBe(204);
      expectDocumented('delete', '/v1/agents/{agent_id}/link', await call('DELETE', `/v1/agents/${spare.agentId}/link`, keys.admin), 404, 'not_found');
    });

    it('agents, metrics, vendors, history and balance, by key and by the agent itself', async () => {
      expectDocumented('get', '/v1/agents', await call('GET', '/v1/agents?limit=1', keys.read), 200);
      const q = `agent_id=${agent.agentId}&range=1h`;
      expectDocumented('get', '/v1/agent/metrics', await call('GET', `/v1/agent/metrics?${q}`, keys.read), 200);
      expectDocumented('get', '/v1/agent/metrics', await call('GET', '/v1/agent/metrics?range=30d', agent), 200);
      expectDocumented('get', '/v1/agent/vendors', await call('GET', `/v1/agent/vendors?${q}`, keys.admin), 200);
      const history = await call('GET', `/v1/agent/history?agent_id=${agent.agentId}&limit=1`, keys.read);
      expectDocumented('get', '/v1/agent/history', history, 200);
      expect((history.json as { next_cursor: string | null }).next_cursor).not.toBeNull();
      expectDocumented('get', '/v1/agent/balance', await call('GET', `/v1/agent/balance?${q}`, keys.read), 200);
    });

    it('settings: read, change, refuse a bad value', async () => {
      const q = `/v1/agent/settings?agent_id=${agent.agentId}`;
      expectDocumented('get', '/v1/agent/settings', await call('GET', q, keys.read), 200);
      expectDocumented('put', '/v1/agent/settings', await call('PUT', q, keys.admin, { daily_spend_limit_atomic: '250000000', runway_alert_hours: null }), 200);
      expectDocumented('put', '/v1/agent/settings', await call('PUT', q, keys.admin, { error_rate_threshold: 2 }), 400, 'invalid_settings');
      expectDocumented('put', '/v1/agent/settings', await call('PUT', q, keys.read, {}), 403, 'forbidden');
    });

    it('gateway metrics', async () => {
      const gatewayId = (gatewayEvent().data as { gateway_id: string }).gateway_id;
      expectDocumented('get', '/v1/gateway/metrics', await call('GET', `/v1/gateway/metrics?gateway_id=${encodeURIComponent(gatewayId)}&range=7d`, keys.read), 200);
      expectDocumented('get', '/v1/gateway/metrics', await call('GET', '/v1/gateway/metrics?range=7d', keys.read), 400, 'invalid_query');
      expectDocumented('get', '/v1/gateway/metrics', await call('GET', `/v1/gateway/metrics?gateway_id=${encodeURIComponent(gatewayId)}`, agent), 403, 'forbidden');
    });

    it('alerts: list and acknowledge, by key and by the agent', async () => {
      // The receiver's own evaluator may already have raised alerts for this agent's telemetry;
      // this one makes sure there is at least one, whichever raised it.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await fireInTransaction(client, {
          agentId: agent.agentId,
          tenantId: 'openapi-tenant',
          type: 'low_balance',
          message: 'USDC balance 1.00 is below 5.00',
          data: { usdc_balance_atomic: '1000000', low_balance_threshold_atomic: '5000000' },
          firedAtMs: Date.now(),
        });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const list = await call('GET', `/v1/agent/alerts?agent_id=${agent.agentId}&state=firing`, keys.read);
      expectDocumented('get', '/v1/agent/alerts', list, 200);
      const alerts = (list.json as { data: { id: string; type: string }[] }).data;
      expect(alerts.map((a) => a.type)).toContain('low_balance');
      const alertId = alerts[0]?.id ?? '';
      expectDocumented('get', '/v1/agent/alerts', await call('GET', '/v1/agent/alerts?state=open', agent), 400, 'invalid_query');
      expectDocumented('post', '/v1/agent/alerts/{id}/ack', await call('POST', `/v1/agent/alerts/${alertId}/ack`, agent, {}), 200);
      expectDocumented('post', '/v1/agent/alerts/{id}/ack', await call('POST', `/v1/agent/alerts/${alertId}/ack`, keys.read), 200);
      expectDocumented('post', '/v1/agent/alerts/{id}/ack', await call('POST', `/v1/agent/alerts/${crypto.randomUUID()}/ack`, keys.read), 404, 'not_found');
    });

    it('live events: stream tokens and the event stream', async () => {
      const token = await call('POST', '/v1/stream/tokens', keys.read, { topics: [`agent:${agent.agentId}`] });
      expectDocumented('post', '/v1/stream/tokens', token, 201);
      expectDocumented('post', '/v1/stream/tokens', await call('POST', '/v1/stream/tokens', keys.read, { topics: ['vendor:x'] }), 400, 'invalid_request');
      expectDocumented('post', '/v1/stream/tokens', await call('POST', '/v1/stream/tokens', keys.read, { topics: [`agent:${newAgent().agentId}`] }), 404, 'not_found');
      expectDocumented('post', '/v1/stream/tokens', await call('POST', '/v1/stream/tokens', agent, { topics: ['agent:*'] }), 403, 'forbidden');

      const query = `topic=${encodeURIComponent(`agent:${agent.agentId}`)}&access_token=${encodeURIComponent((token.json as { token: string }).token)}`;
      const aborter = new AbortController();
      const open = await fetch(`${base}/v1/agent/events?${query}`, { signal: aborter.signal });
      try {
        expect(open.status).toBe(200);
        const media = (open.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
        expect(responseSchema('/v1/agent/events', 'get', 200, media)('')).toBe(true);
        expect(open.headers.get('cache-control')).toBe('no-store');
      } finally {
        aborter.abort();
        await open.body?.cancel().catch(() => undefined);
      }
      expectDocumented('get', '/v1/agent/events', await call('GET', '/v1/agent/events', keys.read), 400, 'invalid_query');
      expectDocumented('get', '/v1/agent/events', await call('GET', '/v1/agent/events?topic=agent:*&access_token=forged', null), 401, 'invalid_api_key');
    });

    it('webhooks: register, list, deliveries, delete, and their refusals', async () => {
      const created = await call('POST', '/v1/webhooks', keys.admin, { url: 'http://127.0.0.1:9/hook', event_types: ['alert.firing'], description: 'pager' });
      expectDocumented('post', '/v1/webhooks', created, 201);
      const id = (created.json as { id: string }).id;
      expectDocumented('post', '/v1/webhooks', await call('POST', '/v1/webhooks', keys.admin, { url: 'ftp://127.0.0.1/hook', event_types: ['alert.firing'] }), 400, 'invalid_webhook_url');
      expectDocumented('post', '/v1/webhooks', await call('POST', '/v1/webhooks', keys.admin, { url: 'http://127.0.0.1:9/hook', event_types: [] }), 400, 'invalid_body');
      expectDocumented('post', '/v1/webhooks', await call('POST', '/v1/webhooks', keys.read, { url: 'http://127.0.0.1:9/hook', event_types: ['alert.firing'] }), 403, 'forbidden');
      expectDocumented('get', '/v1/webhooks', await call('GET', '/v1/webhooks', keys.admin), 200);
      expectDocumented('get', '/v1/webhooks', await call('GET', '/v1/webhooks', null), 401, 'invalid_api_key');
      expectDocumented('get', '/v1/webhooks/{id}/deliveries', await call('GET', `/v1/webhooks/${id}/deliveries?limit=10`, keys.admin), 200);
      expectDocumented('get', '/v1/webhooks/{id}/deliveries', await call('GET', `/v1/webhooks/${id}/deliveries?limit=501`, keys.admin), 400, 'invalid_query');
      expect((await call('DELETE', `/v1/webhooks/${id}`, keys.admin)).status).toBe(204);
      expectDocumented('delete', '/v1/webhooks/{id}', await call('DELETE', `/v1/webhooks/${id}`, keys.admin), 404, 'not_found');
    });

    it('errors: 400 invalid_query, 401, 403 forbidden, 404 not_found', async () => {
      expectDocumented('get', '/v1/agents', await call('GET', '/v1/agents?limit=0', keys.read), 400, 'invalid_query');
      expectDocumented('get', '/v1/agent/metrics', await call('GET', `/v1/agent/metrics?agent_id=${agent.agentId}&range=2h`, keys.read), 400, 'invalid_query');
      expectDocumented('get', '/v1/agents', await call('GET', '/v1/agents', null), 401, 'invalid_api_key');
      expectDocumented('get', '/v1/agents', await call('GET', '/v1/agents', keys.ingest), 403, 'forbidden');
      expectDocumented('get', '/v1/agent/metrics', await call('GET', `/v1/agent/metrics?agent_id=${newAgent().agentId}`, keys.read), 404, 'not_found');
      const stale = await call('GET', '/v1/agent/history', agent);
      expectDocumented('get', '/v1/agent/history', stale, 200);
    });
  });
});
