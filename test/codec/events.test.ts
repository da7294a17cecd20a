import { describe, expect, it } from 'vitest';
import { BodyKind, MAX_ERROR_MESSAGE_LENGTH } from '../../src/codec/index.js';
import { Endpoint, ENDPOINTS, EVENT_TYPES } from '../../src/protocol/index.js';
import { AGENT, agentCtx, agentId, gatewayRequest, ingestCtx, interaction, jsonBytes, rejection, rowsOf, run, runOne, telemetry, TENANT, toJson } from './support.js';

describe('event types per endpoint (docs/protocol.md §5)', () => {
  it('lists the three types', () => {
    expect(ENDPOINTS[Endpoint.Agent].eventTypes).toEqual(['com.machpay.agent.interaction.v1', 'com.machpay.agent.telemetry.v1']);
    expect(ENDPOINTS[Endpoint.Ingest].eventTypes).toEqual(['com.machpay.gateway.request.v1']);
    expect(EVENT_TYPES.gatewayRequest).toBe('com.machpay.gateway.request.v1');
  });

  it('a gateway event on /v1/agent and an agent event on /v1/ingest are unknown_type', () => {
    expect(rejection(runOne(gatewayRequest(), 'gateway_telemetry', agentCtx).result)).toMatchObject({
      code: 'unknown_type',
      message: 'type: not an event type accepted on /v1/agent',
      id: 'gw-1',
    });
    expect(rejection(runOne(interaction(), 'agent_interactions', ingestCtx).result)).toMatchObject({
      code: 'unknown_type',
      message: 'type: not an event type accepted on /v1/ingest',
    });
    expect(rejection(runOne(interaction({}, { type: 'com.example.other' }), 'agent_interactions').result).code).toBe('unknown_type');
  });
});

describe('order of per-event checks', () => {
  it('not an object → invalid_event with id null', () => {
    const { result } = run(toJson([1, 'x', null, [], true]));
    expect(result).toMatchObject({ ok: true, accepted: 0 });
    if (!result.ok) return;
    expect(result.rejected).toEqual([0, 1, 2, 3, 4].map((index) => ({ index, id: null, code: 'invalid_event', message: 'event: must be an object' })));
  });

  it('type missing or not a string → invalid_event, before anything else', () => {
    const noType = interaction({}, { specversion: '2.0' });
    delete noType.type;
    expect(rejection(runOne(noType, 'agent_interactions').result)).toMatchObject({ code: 'invalid_event', message: 'type: required' });
    expect(rejection(runOne(interaction({}, { type: 5 }), 'agent_interactions').result)).toMatchObject({
      code: 'invalid_event',
      message: 'type: must be a string',
    });
  });

  it('unknown_type wins over a bad envelope and an agent mismatch', () => {
    const evt = interaction({ agent_id: agentId(9) }, { type: 'nope', specversion: '0.3' });
    expect(rejection(runOne(evt, 'agent_interactions').result).code).toBe('unknown_type');
  });

  it('agent_mismatch wins over invalid fields', () => {
    const evt = interaction({ agent_id: agentId(9), latency_ms: -1 }, { specversion: '0.3' });
    expect(rejection(runOne(evt, 'agent_interactions').result)).toMatchObject({
      code: 'agent_mismatch',
      message: 'data.agent_id: does not match X-MachPay-Agent',
      id: 'evt-1',
    });
    expect(rejection(runOne(telemetry({ agent_id: agentId(9) }), 'agent_telemetry').result).code).toBe('agent_mismatch');
  });

  it('a non-string agent_id is invalid_event, not agent_mismatch', () => {
    expect(rejection(runOne(interaction({ agent_id: 5 }), 'agent_interactions').result)).toMatchObject({
      code: 'invalid_event',
      message: 'data.agent_id: must be a string',
    });
    expect(rejection(runOne(interaction({ agent_id: undefined }), 'agent_interactions').result)).toMatchObject({
      code: 'invalid_event',
      message: 'data.agent_id: required',
    });
  });

  it('rejected[] reports index and id; a non-string or over-long id is null', () => {
    const { result } = run(
      toJson([
        interaction(),
        interaction({ latency_ms: -1 }, { id: 'bad-1' }),
        interaction({ success: 1 }, { id: 7 }),
        interaction({}, { id: 'x'.repeat(129) }),
        interaction({ success: 1 }, { id: '😀'.repeat(128) }),
      ]),
    );
    expect(result).toEqual({
      ok: true,
      accepted: 1,
      rejected: [
        { index: 1, id: 'bad-1', code: 'invalid_event', message: 'data.latency_ms: must be an integer >= 0' },
        { index: 2, id: null, code: 'invalid_event', message: expect.stringMatching(/^id: must be a non-empty string/) as unknown },
        { index: 3, id: null, code: 'invalid_event', message: expect.stringMatching(/^id: /) as unknown },
        { index: 4, id: '😀'.repeat(128), code: 'invalid_event', message: 'data.success: must be a boolean' },
      ],
    });
  });
});

describe('CloudEvents attributes', () => {
  const bad = (attrs: Record<string, unknown>): string => rejection(runOne(interaction({}, attrs), 'agent_interactions').result).message;

  it('specversion must be "1.0"', () => {
    expect(bad({ specversion: '0.3' })).toBe('specversion: must be "1.0"');
    expect(bad({ specversion: 1 })).toBe('specversion: must be "1.0"');
    expect(bad({ specversion: undefined })).toBe('specversion: must be "1.0"');
  });

  it('id: non-empty, ≤ 128 characters (code points), storable', () => {
    expect(bad({ id: '' })).toMatch(/^id: /);
    expect(bad({ id: 'x'.repeat(129) })).toMatch(/^id: /);
    expect(bad({ id: 'a\u0000b' })).toMatch(/^id: /);
    expect(bad({ id: 'a\ud800b' })).toMatch(/^id: /);
    expect(runOne(interaction({}, { id: '😀'.repeat(128) }), 'agent_interactions').result).toMatchObject({ accepted: 1 });
    expect(bad({ id: '😀'.repeat(129) })).toMatch(/^id: /);
  });

  it('source: non-empty URI-reference ≤ 256 without whitespace or control characters', () => {
    for (const source of ['urn:a', '/relative/path', 'https://x.example/a?b=c#d', 'a%20b', "x-._~:/?#[]@!$&'()*+,;=", 's'.repeat(256)]) {
      expect(runOne(interaction({}, { source }), 'agent_interactions').result, source).toMatchObject({ accepted: 1 });
    }
    for (const source of ['', 's'.repeat(257), 'a b', 'a\tb', 'a\nb', 'a\u0000b', 'ü', 'a%2', 'a%zz', 'a"b', 'a<b>', 'a\\b', 5]) {
      expect(bad({ source }), String(source)).toMatch(/^source: /);
    }
  });

  it('data must be an object', () => {
    for (const data of [null, [], 'x', 5]) {
      expect(rejection(runOne({ ...interaction(), data }, 'agent_interactions').result).message).toBe('data: must be an object');
    }
    const noData = interaction();
    delete noData.data;
    expect(rejection(runOne(noData, 'agent_interactions').result).message).toBe('data: must be an object');
  });

  it('unknown extra attributes and data fields are ignored', () => {
    expect(runOne(interaction({ extra: { deep: [1, 2] } }, { subject: 'x', datacontenttype: 'application/json' }), 'agent_interactions').result).toMatchObject({
      accepted: 1,
    });
  });
});

describe('com.machpay.agent.interaction.v1 → agent_interactions', () => {
  it('writes every column in table order', () => {
    const { result, rows } = runOne(
      interaction({
        vendor_id: 'vendor-a',
        request_url: 'https://api.example.com/x?y=1',
        request_method: 'POST',
        amount_atomic: 1500,
        token_mint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
        nonce: -3,
        success: false,
        latency_ms: 2147483647,
        error_type: 'timeout',
        error_message: 'line1\nline2',
        signature: '5'.repeat(88),
      }),
      'agent_interactions',
    );
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rows).toEqual([
      {
        time: '2026-01-31 12:00:00.123456+00',
        agent_id: AGENT,
        vendor_id: 'vendor-a',
        request_url: 'https://api.example.com/x?y=1',
        request_method: 'POST',
        amount_atomic: '1500',
        token_mint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
        nonce: '-3',
        success: 'f',
        latency_ms: '2147483647',
        error_type: 'timeout',
        error_message: 'line1\nline2',
        signature: '5'.repeat(88),
      },
    ]);
  });

  it('optional fields absent or null are NULL', () => {
    const { rows } = runOne(interaction({ request_url: null, amount_atomic: null }), 'agent_interactions');
    expect(rows[0]).toMatchObject({ request_url: null, request_method: null, amount_atomic: null, token_mint: null, error_type: null, error_message: null, signature: null });
  });

  const message = (data: Record<string, unknown>): string => rejection(runOne(interaction(data), 'agent_interactions').result).message;

  it('required fields', () => {
    expect(message({ vendor_id: undefined })).toBe('data.vendor_id: required');
    expect(message({ vendor_id: '' })).toBe('data.vendor_id: must not be empty');
    expect(message({ nonce: undefined })).toBe('data.nonce: required');
    expect(message({ success: undefined })).toBe('data.success: required');
    expect(message({ latency_ms: null })).toBe('data.latency_ms: required');
  });

  it('types: booleans are booleans, numbers are numbers, strings are strings', () => {
    expect(message({ success: 'true' })).toBe('data.success: must be a boolean');
    expect(message({ success: 1 })).toBe('data.success: must be a boolean');
    expect(message({ latency_ms: '12' })).toBe('data.latency_ms: must be an integer >= 0');
    expect(message({ latency_ms: 1.5 })).toBe('data.latency_ms: must be an integer >= 0');
    expect(message({ latency_ms: -1 })).toBe('data.latency_ms: must be an integer >= 0');
    expect(message({ latency_ms: 2147483648 })).toBe('data.latency_ms: must be at most 2147483647');
    expect(message({ vendor_id: 5 })).toBe('data.vendor_id: must be a string');
    expect(message({ request_url: ['x'] })).toBe('data.request_url: must be a string');
    expect(message({ nonce: true })).toMatch(/^data\.nonce: must be an integer that fits int64/);
  });

  it('VARCHAR lengths from the DDL, counted in characters', () => {
    const limits: [string, number][] = [
      ['agent_id', 64],
      ['vendor_id', 64],
      ['request_url', 512],
      ['request_method', 16],
      ['token_mint', 64],
      ['error_type', 64],
      ['error_message', MAX_ERROR_MESSAGE_LENGTH],
      ['signature', 128],
    ];
    for (const [field, max] of limits) {
      const ctx = field === 'agent_id' ? { ...agentCtx, agentId: null } : agentCtx;
      expect(runOne(interaction({ [field]: 'é'.repeat(max) }), 'agent_interactions', ctx).result, field).toMatchObject({ accepted: 1 });
      expect(runOne(interaction({ [field]: '😀'.repeat(max) }), 'agent_interactions', ctx).result, field).toMatchObject({ accepted: 1 });
      expect(rejection(runOne(interaction({ [field]: 'x'.repeat(max + 1) }), 'agent_interactions', ctx).result).message).toBe(
        `data.${field}: must be at most ${max} characters`,
      );
      expect(rejection(runOne(interaction({ [field]: '😀'.repeat(max + 1) }), 'agent_interactions', ctx).result).message).toBe(
        `data.${field}: must be at most ${max} characters`,
      );
    }
  });

  it('NUL and lone surrogates are refused in any string', () => {
    expect(message({ error_message: 'a\u0000b' })).toBe('data.error_message: must not contain NUL characters or unpaired surrogates');
    expect(message({ vendor_id: 'a\udc00' })).toBe('data.vendor_id: must not contain NUL characters or unpaired surrogates');
    expect(message({ token_mint: '\ud83d' })).toBe('data.token_mint: must not contain NUL characters or unpaired surrogates');
    expect(message({ signature: '\ude00\ud83d' })).toBe('data.signature: must not contain NUL characters or unpaired surrogates');
  });

  it('a rejected event leaves no partial row; accepted neighbours are kept', () => {
    const { result, batch } = run(toJson([interaction({ nonce: 1 }), interaction({ nonce: 2, signature: 'x'.repeat(129) }), interaction({ nonce: 3 })]));
    expect(result).toMatchObject({ accepted: 2 });
    expect(rowsOf(batch, 'agent_interactions').map((r) => r.nonce)).toEqual(['1', '3']);
    expect(batch.interactions.rows).toBe(2);
  });

  it('with no agentId in the context, any valid agent_id is taken', () => {
    const { rows } = runOne(interaction({ agent_id: 'someone' }), 'agent_interactions', { ...agentCtx, agentId: null });
    expect(rows[0]?.agent_id).toBe('someone');
  });
});

describe('com.machpay.agent.telemetry.v1 → agent_telemetry', () => {
  it('computes time, period_seconds and totals; stores a clean interactions document', () => {
    const text = toJson([
      telemetry({
        sdk_version: '1.2.3',
        wallet: { sol_balance_lamports: '9223372036854775807', usdc_balance_atomic: 0, low_balance_warnings: 2, extra: 'ignored' },
        interactions: {
          'vendor-a': { attempts: 10, success: 8, failures: 2, payment_latency_p50: 30, payment_latency_p99: 250, spend_atomic: '9000000000000000000', errors: { timeout: 2 }, junk: 1 },
          'vendor-b': { attempts: 1, success: 1, spend_atomic: 5 },
        },
      }),
    ]);
    const { result, batch } = run(text);
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    const row = rowsOf(batch, 'agent_telemetry')[0];
    expect(row).toEqual({
      time: '2026-01-31 12:01:00+00',
      agent_id: AGENT,
      sol_balance_lamports: '9223372036854775807',
      usdc_balance_atomic: '0',
      low_balance_warnings: '2',
      period_seconds: '60',
      total_requests: '11',
      total_payments: '9',
      total_spend_atomic: '9000000000000000005',
      interactions:
        '{"vendor-a":{"attempts":10,"success":8,"failures":2,"payment_latency_p50":30,"payment_latency_p99":250,"spend_atomic":9000000000000000000,"errors":{"timeout":2}},"vendor-b":{"attempts":1,"success":1,"spend_atomic":5}}',
      sdk_version: '1.2.3',
    });
  });

  it('wallet and interactions are optional; absent counts take the DDL defaults', () => {
    const { rows } = runOne(telemetry(), 'agent_telemetry');
    expect(rows[0]).toMatchObject({
      sol_balance_lamports: null,
      usdc_balance_atomic: null,
      low_balance_warnings: '0',
      total_requests: '0',
      total_payments: '0',
      total_spend_atomic: '0',
      interactions: null,
      sdk_version: null,
    });
    expect(runOne(telemetry({ wallet: { usdc_balance_atomic: 7 } }), 'agent_telemetry').rows[0]).toMatchObject({
      sol_balance_lamports: null,
      usdc_balance_atomic: '7',
      low_balance_warnings: '0',
    });
    expect(runOne(telemetry({ interactions: {} }), 'agent_telemetry').rows[0]?.interactions).toBe('{}');
  });

  it('__proto__ and constructor vendor keys are plain data', () => {
    const text =
      '[' +
      toJson(telemetry({ interactions: {} })).replace(
        '"interactions":{}',
        '"interactions":{"__proto__":{"attempts":1,"errors":{"__proto__":2}},"constructor":{"attempts":2},"x\\"\\\\\\ty":{"attempts":3}}',
      ) +
      ']';
    const { result, batch } = run(text);
    expect(result).toMatchObject({ accepted: 1 });
    const row = rowsOf(batch, 'agent_telemetry')[0];
    expect(row?.total_requests).toBe('6');
    expect(JSON.parse(row?.interactions ?? '')).toEqual(
      JSON.parse('{"__proto__":{"attempts":1,"errors":{"__proto__":2}},"constructor":{"attempts":2},"x\\"\\\\\\ty":{"attempts":3}}'),
    );
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  const message = (data: Record<string, unknown>): string => rejection(runOne(telemetry(data), 'agent_telemetry').result).message;

  it('period checks', () => {
    expect(message({ period_start: undefined })).toBe('data.period_start: required');
    expect(message({ period_end: '1769860860' })).toMatch(/^data\.period_end: must be Unix seconds/);
    expect(message({ period_end: 1.5 })).toMatch(/^data\.period_end: must be Unix seconds/);
    expect(message({ period_start: -1 })).toMatch(/^data\.period_start: must be Unix seconds/);
    expect(message({ period_end: 253402300800 })).toMatch(/^data\.period_end: must be Unix seconds/);
    expect(message({ period_start: 1769860861 })).toBe('data.period_start: must not be after data.period_end');
    expect(message({ period_start: 0, period_end: 2147483648 })).toBe('data.period_end: the period must be at most 2147483647 seconds long');
    expect(runOne(telemetry({ period_start: 0, period_end: 2147483647 }), 'agent_telemetry').rows[0]?.period_seconds).toBe('2147483647');
  });

  it('wallet checks', () => {
    expect(message({ wallet: 5 })).toBe('data.wallet: must be an object');
    expect(message({ wallet: { sol_balance_lamports: -1 } })).toMatch(/^data\.wallet\.sol_balance_lamports: must be an integer >= 0/);
    expect(message({ wallet: { usdc_balance_atomic: 1.5 } })).toMatch(/^data\.wallet\.usdc_balance_atomic: /);
    expect(message({ wallet: { low_balance_warnings: -1 } })).toBe('data.wallet.low_balance_warnings: must be an integer >= 0');
  });

  it('interactions checks, with the vendor named in the message', () => {
    expect(message({ interactions: [] })).toBe('data.interactions: must be an object');
    expect(message({ interactions: { v: 5 } })).toBe('data.interactions["v"]: must be an object');
    expect(message({ interactions: { v: { attempts: -1 } } })).toBe('data.interactions["v"].attempts: must be an integer >= 0');
    expect(message({ interactions: { v: { payment_latency_p99: '5' } } })).toBe('data.interactions["v"].payment_latency_p99: must be an integer >= 0');
    expect(message({ interactions: { v: { spend_atomic: -5 } } })).toMatch(/^data\.interactions\["v"\]\.spend_atomic: must be an integer >= 0/);
    expect(message({ interactions: { v: { errors: [] } } })).toBe('data.interactions["v"].errors: must be an object');
    expect(message({ interactions: { v: { errors: { t: true } } } })).toBe('data.interactions["v"].errors["t"]: must be an integer >= 0');
    expect(message({ interactions: { v: { errors: { '': 1 } } } })).toMatch(/^data\.interactions\["v"\]\.errors: error types must be 1 to 64 characters/);
    expect(message({ interactions: { ['v'.repeat(65)]: {} } })).toMatch(/^data\.interactions: vendor ids must be 1 to 64 characters/);
    expect(message({ interactions: { '': {} } })).toMatch(/^data\.interactions: vendor ids must be/);
    expect(message({ interactions: { 'a\u0000': {} } })).toMatch(/^data\.interactions: vendor ids must be/);
    expect(message({ interactions: { v: { errors: { ['e'.repeat(65)]: 1 } } } })).toMatch(/error types must be 1 to 64/);
  });

  it('caps vendors and error types; sums must fit their columns', () => {
    const vendors = (n: number): Record<string, unknown> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, { attempts: 1 }]));
    expect(runOne(telemetry({ interactions: vendors(1000) }), 'agent_telemetry').rows[0]?.total_requests).toBe('1000');
    expect(message({ interactions: vendors(1001) })).toBe('data.interactions: at most 1000 vendors per report');
    const errors = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`e${i}`, 1]));
    expect(message({ interactions: { v: { errors } } })).toBe('data.interactions["v"].errors: at most 100 error types');
    expect(message({ interactions: { a: { attempts: 2147483647 }, b: { attempts: 1 } } })).toBe('data.interactions: the sum of attempts must be at most 2147483647');
    expect(message({ interactions: { a: { success: 2147483647 }, b: { success: 1 } } })).toBe('data.interactions: the sum of success must be at most 2147483647');
    expect(message({ interactions: { a: { spend_atomic: '9223372036854775807' }, b: { spend_atomic: 1 } } })).toBe(
      'data.interactions: the sum of spend_atomic does not fit int64',
    );
  });

  it('sdk_version ≤ 32', () => {
    expect(runOne(telemetry({ sdk_version: 'v'.repeat(32) }), 'agent_telemetry').result).toMatchObject({ accepted: 1 });
    expect(message({ sdk_version: 'v'.repeat(33) })).toBe('data.sdk_version: must be at most 32 characters');
  });
});

describe('com.machpay.gateway.request.v1 → gateway_telemetry', () => {
  it('writes every column, with the tenant and the event source/id', () => {
    const { result, rows } = runOne(
      gatewayRequest({ agent_id: 'agent-x', amount_atomic: '9223372036854775807', payment_verified: true, risk_score: 0.1, error_code: 'E1' }),
      'gateway_telemetry',
      ingestCtx,
    );
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rows).toEqual([
      {
        time: '2026-01-31 12:00:00+00',
        tenant_id: TENANT,
        event_source: 'https://gateway.example.com/gw-1',
        event_id: 'gw-1',
        gateway_id: 'gw-1',
        vendor_id: 'vendor-a',
        route: '/api/x',
        method: 'GET',
        status_code: '200',
        latency_ms: '5',
        agent_id: 'agent-x',
        amount_atomic: '9223372036854775807',
        payment_verified: 't',
        risk_score: '0.1',
        error_code: 'E1',
      },
    ]);
    expect(runOne(gatewayRequest(), 'gateway_telemetry', ingestCtx).rows[0]).toMatchObject({
      agent_id: null,
      amount_atomic: null,
      payment_verified: null,
      risk_score: null,
      error_code: null,
    });
  });

  const message = (data: Record<string, unknown>): string => rejection(runOne(gatewayRequest(data), 'gateway_telemetry', ingestCtx).result).message;

  it('field checks', () => {
    expect(message({ gateway_id: undefined })).toBe('data.gateway_id: required');
    expect(message({ route: 'r'.repeat(513) })).toBe('data.route: must be at most 512 characters');
    expect(message({ method: 'M'.repeat(17) })).toBe('data.method: must be at most 16 characters');
    expect(message({ status_code: 99 })).toBe('data.status_code: must be an integer from 100 to 599');
    expect(message({ status_code: 600 })).toBe('data.status_code: must be at most 599');
    expect(message({ status_code: '200' })).toBe('data.status_code: must be an integer from 100 to 599');
    expect(message({ latency_ms: undefined })).toBe('data.latency_ms: required');
    expect(message({ payment_verified: 'yes' })).toBe('data.payment_verified: must be a boolean');
    expect(message({ risk_score: 1.01 })).toBe('data.risk_score: must be a number from 0 to 1');
    expect(message({ risk_score: -0.01 })).toBe('data.risk_score: must be a number from 0 to 1');
    expect(message({ risk_score: '0.5' })).toBe('data.risk_score: must be a number from 0 to 1');
    expect(message({ amount_atomic: -1 })).toMatch(/^data\.amount_atomic: must be an integer >= 0/);
    expect(message({ error_code: 'e'.repeat(65) })).toBe('data.error_code: must be at most 64 characters');
    expect(runOne(gatewayRequest({ status_code: 100, risk_score: 0 }), 'gateway_telemetry', ingestCtx).rows[0]).toMatchObject({ status_code: '100', risk_score: '0' });
    expect(runOne(gatewayRequest({ status_code: 599, risk_score: 1 }), 'gateway_telemetry', ingestCtx).rows[0]).toMatchObject({ status_code: '599', risk_score: '1' });
  });

  it('a tenant that cannot be stored rejects every gateway event instead of writing a bad row', () => {
    for (const tenantId of [null, '', 't'.repeat(65), 'a\u0000']) {
      const { result, rows } = runOne(gatewayRequest(), 'gateway_telemetry', { ...ingestCtx, tenantId });
      expect(rejection(result).message).toBe("tenant_id: the API key's tenant is not a valid tenant id");
      expect(rows).toEqual([]);
    }
  });
});

describe('body forms', () => {
  it('binary mode: attributes from ce-* headers, the body is data', () => {
    const binary = { specversion: '1.0', id: 'b-1', source: 'urn:x', type: 'com.machpay.agent.interaction.v1', time: '2026-01-31T12:00:00Z' };
    const data = (interaction().data as Record<string, unknown>);
    const { result, batch } = run(jsonBytes(data), BodyKind.Binary, agentCtx, binary);
    expect(result).toEqual({ ok: true, accepted: 1, rejected: [] });
    expect(rowsOf(batch, 'agent_interactions')[0]?.time).toBe('2026-01-31 12:00:00+00');
    expect(rejection(run(jsonBytes(data), BodyKind.Binary, agentCtx, { ...binary, time: null }).result)).toMatchObject({ id: 'b-1', message: 'time: required' });
    expect(rejection(run('[1]', BodyKind.Binary, agentCtx, binary).result).message).toBe('data: must be an object');
    expect(rejection(run(jsonBytes(data), BodyKind.Binary, agentCtx, { ...binary, type: 'other' }).result).code).toBe('unknown_type');
    expect(rejection(run(jsonBytes(data), BodyKind.Binary, agentCtx, { ...binary, specversion: '0.3' }).result).message).toBe('specversion: must be "1.0"');
    expect(run('{', BodyKind.Binary, agentCtx, binary).result).toMatchObject({ ok: false, code: 'invalid_body' });
    expect(run(jsonBytes(data), BodyKind.Binary, agentCtx, null).result).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('single structured event', () => {
    expect(run(jsonBytes(interaction()), BodyKind.JsonSingle).result).toEqual({ ok: true, accepted: 1, rejected: [] });
  });

  it('too_many_events above maxEvents, for every form', () => {
    const ctx = { ...agentCtx, maxEvents: 2 };
    expect(run(jsonBytes([interaction(), interaction(), interaction()]), BodyKind.JsonBatch, ctx).result).toMatchObject({ ok: false, code: 'too_many_events' });
    expect(run(jsonBytes([interaction(), interaction()]), BodyKind.JsonBatch, ctx).result).toMatchObject({ ok: true, accepted: 2 });
    expect(run(jsonBytes(interaction()), BodyKind.JsonSingle, { ...agentCtx, maxEvents: 0 }).result).toMatchObject({ ok: false, code: 'too_many_events' });
  });

  it('an unknown body kind is invalid_body', () => {
    expect(run(jsonBytes([interaction()]), 99 as BodyKind).result).toMatchObject({ ok: false, code: 'invalid_body' });
  });

  it('an empty batch is accepted: 0 (the caller answers no_valid_events)', () => {
    expect(run('[]').result).toEqual({ ok: true, accepted: 0, rejected: [] });
  });

  it('rows of many requests accumulate in one RowBatch', () => {
    const { batch } = run(jsonBytes([interaction({ nonce: 1 })]));
    const second = run(jsonBytes([interaction({ nonce: 2 }), telemetry()]));
    expect(batch.rows).toBe(1);
    expect(second.batch.rows).toBe(2);
    expect(second.batch.byteLength).toBeGreaterThan(0);
    second.batch.reset();
    expect(second.batch.rows).toBe(0);
  });
});
