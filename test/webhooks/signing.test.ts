import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, secretKey, signWebhook } from '../../src/webhooks/index.js';
import { newMessageId } from '../../src/webhooks/signing.js';

/** Our signing checked by the reference implementation of Standard Webhooks. */
describe('Standard Webhooks signing', () => {
  const body = JSON.stringify({ type: 'alert.firing', timestamp: '2026-12-07T06:00:00.000Z', data: { id: 'a1', amount_atomic: '5000000', note: 'é ✓' } });

  it('produces headers the standardwebhooks verifier accepts', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(secretKey(secret), newMessageId(), now, body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('matches the reference signature byte for byte', () => {
    const secret = generateWebhookSecret();
    const id = newMessageId();
    const ts = 1_765_000_000;
    const ours = signWebhook(secretKey(secret), id, ts, body)['webhook-signature'];
    expect(ours).toBe(new Webhook(secret).sign(id, new Date(ts * 1000), body));
  });

  it('is refused when the body, the id or the secret differ', () => {
    const secret = generateWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(secretKey(secret), 'msg_1', now, body);
    const verifier = new Webhook(secret);
    expect(() => verifier.verify(body.replace('5000000', '5000001'), { ...headers })).toThrow();
    expect(() => verifier.verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
  });

  it('gives each event its own message id', () => {
    const ids = new Set(Array.from({ length: 1000 }, newMessageId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
  });
});
