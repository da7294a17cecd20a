import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayEmitter, MachPayConfigError, MachPayInputError, type GatewayEmitterOptions, type GatewayRequestInput } from '../../src/sdk/index.js';
import { accept, errorReply, startFakeReceiver, type FakeReceiver } from './fake-receiver.js';
import { expectBalanced, idsOf } from './emitter-helpers.js';

const apiKey = 'mpk_test_' + 'A'.repeat(20) + '-_' + 'z'.repeat(21);
let receiver: FakeReceiver;
let emitter: GatewayEmitter | null = null;

beforeEach(async () => {
  receiver = await startFakeReceiver();
});
afterEach(async () => {
  await emitter?.stop({ deadlineMs: 0 });
  emitter = null;
  await receiver.close();
});

function make(options: Partial<GatewayEmitterOptions> = {}): GatewayEmitter {
  emitter = new GatewayEmitter({ receiverUrl: receiver.url, apiKey, retryInitialDelayMs: 10, ...options });
  return emitter;
}

const request = (i: number, extra: Partial<GatewayRequestInput> = {}): GatewayRequestInput => ({
  gatewayId: 'gw-eu-1',
  vendorId: 'weather-api',
  route: '/v1/forecast',
  method: 'GET',
  statusCode: 200,
  latencyMs: 20 + i,
  ...extra,
});

describe('GatewayEmitter', () => {
  it('posts to /v1/ingest with the API key and no agent signature', async () => {
    const e = make();
    e.start();
    const id = e.recordRequest(
      request(1, { agentId: 'Agent1111', amountAtomic: 9_223_372_036_854_775_807n, paymentVerified: true, riskScore: 0.25, errorCode: 'none', time: 0 }),
    );
    await e.flush();
    const [req] = receiver.requests;
    expect(req?.path).toBe('/v1/ingest');
    expect(req?.headers['authorization']).toBe(`Bearer ${apiKey}`);
    expect(req?.headers['x-machpay-signature']).toBeUndefined();
    expect(req?.signatureValid).toBeNull();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(req?.events[0]).toEqual({
      specversion: '1.0',
      id,
      source: 'urn:machpay:gateway',
      type: 'com.machpay.gateway.request.v1',
      time: '1970-01-01T00:00:00.000Z',
      data: {
        gateway_id: 'gw-eu-1',
        vendor_id: 'weather-api',
        route: '/v1/forecast',
        method: 'GET',
        status_code: 200,
        latency_ms: 21,
        agent_id: 'Agent1111',
        amount_atomic: '9223372036854775807',
        payment_verified: true,
        risk_score: 0.25,
        error_code: 'none',
      },
    });
  });

  it('gives every event a distinct id and keeps it across retries', async () => {
    receiver.script = (req) => (req.index === 0 ? errorReply(429, 'rate_limited', { 'retry-after': '0.05' }) : accept(req));
    const e = make({ encoding: 'msgpack' });
    e.start();
    for (let i = 0; i < 200; i++) e.recordRequest(request(i));
    await e.flush();
    const [first, second] = receiver.requests;
    expect(idsOf(second?.events ?? [])).toEqual(idsOf(first?.events ?? []));
    expect(new Set(idsOf(receiver.events().slice(100))).size).toBe(200);
    expect(e.stats()).toMatchObject({ sent: 200, retried: 1 });
    expectBalanced(e.stats());
  });

  it('rejects malformed keys without echoing them, and invalid input by field', () => {
    const secretish = 'sk_live_do_not_print_me';
    let message = '';
    try {
      new GatewayEmitter({ receiverUrl: receiver.url, apiKey: secretish });
    } catch (err) {
      expect(err).toBeInstanceOf(MachPayConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/apiKey/);
    expect(message).not.toContain(secretish);
    expect(() => new GatewayEmitter({ receiverUrl: receiver.url, apiKey: 'mpk_live_short' })).toThrow(MachPayConfigError);

    const e = make();
    for (const [field, patch] of [
      ['statusCode', { statusCode: 99 }],
      ['statusCode', { statusCode: 200.5 }],
      ['riskScore', { riskScore: 1.5 }],
      ['riskScore', { riskScore: Number.NaN }],
      ['gatewayId', { gatewayId: '' }],
      ['route', { route: '' }],
      ['amountAtomic', { amountAtomic: -3 }],
      ['paymentVerified', { paymentVerified: 'yes' }],
    ] as const) {
      expect(() => e.recordRequest(request(0, patch as never)), field).toThrow(MachPayInputError);
      try {
        e.recordRequest(request(0, patch as never));
      } catch (err) {
        expect((err as MachPayInputError).field).toBe(field);
      }
    }
    expect(e.stats().recorded).toBe(0);
  });

  it('reports an unknown key (401 invalid_api_key) once, without retrying', async () => {
    receiver.script = () => errorReply(401, 'invalid_api_key');
    const e = make();
    e.start();
    e.recordRequest(request(1));
    await e.flush();
    expect(receiver.requests).toHaveLength(1);
    expect(e.stats()).toMatchObject({ failed: 1, errors: { invalid_api_key: 1 }, lastError: { code: 'invalid_api_key', status: 401 } });
  });
});
