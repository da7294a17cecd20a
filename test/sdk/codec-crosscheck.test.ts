import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { decodeAndEncode, parseContentType, RowBatch } from '../../src/codec/index.js';

/** What the SDK sends, the receiver's codec accepts: every event, none rejected. */
import { GatewayEmitter, generateKeypair, TelemetryEmitter } from '../../src/sdk/index.js';
import { Endpoint } from '../../src/protocol/index.js';

it('the receiver codec accepts every SDK event', async () => {
  const bodies: { ct: string; body: Uint8Array; agent: string | null }[] = [];
  const fetchStub = ((_u: string, init: RequestInit) => {
    const h = init.headers as Record<string, string>;
    let body = init.body as Uint8Array;
    if (h['Content-Encoding'] === 'gzip') body = gunzipSync(body);
    bodies.push({ ct: h['Content-Type'] ?? '', body, agent: h['X-MachPay-Agent'] ?? null });
    return Promise.resolve(new Response('{}', { status: 202 }));
  }) as unknown as typeof fetch;
  for (const encoding of ['json', 'msgpack'] as const) {
    const kp = generateKeypair();
    const e = new TelemetryEmitter({ receiverUrl: 'http://x', keypair: kp, fetch: fetchStub, encoding, walletProvider: () => ({ solBalanceLamports: 9_223_372_036_854_775_807n, usdcBalanceAtomic: 5, lowBalanceWarnings: 2 }) });
    e.start();
    e.recordInteraction({ vendorId: 'v😀', success: true, latencyMs: 3, amountAtomic: 9_223_372_036_854_775_807n, nonce: 9_223_372_036_854_775_807n, tokenMint: 'm', requestUrl: 'u\u0000' + 'x'.repeat(600), requestMethod: 'GET', errorType: 'e', errorMessage: 'm'.repeat(5000), signature: 's' });
    e.recordInteraction({ vendorId: 'w', success: false, latencyMs: 0 });
    for (let i = 0; i < 40; i++) e.recordInteraction({ vendorId: `v${i}`, success: i % 2 === 0, latencyMs: i, errorType: `t${i}` });
    await e.emitTelemetrySnapshot();
    await e.stop();
    const g = new GatewayEmitter({ receiverUrl: 'http://x', apiKey: 'mpk_test_' + 'a'.repeat(43), fetch: fetchStub, encoding });
    g.recordRequest({ gatewayId: 'g', vendorId: 'v', route: '/r', method: 'GET', statusCode: 200, latencyMs: 1, agentId: kp.agentId, amountAtomic: 9_223_372_036_854_775_807n, paymentVerified: true, riskScore: 0.5, errorCode: 'x' });
    g.recordRequest({ gatewayId: 'g', vendorId: 'v', route: '/r', method: 'GET', statusCode: 599, latencyMs: 1 });
    await g.stop();
  }
  for (const b of bodies) {
    const kind = parseContentType(b.ct);
    const out = new RowBatch();
    const r = decodeAndEncode(b.body, kind as never, null, { endpoint: b.agent === null ? Endpoint.Ingest : Endpoint.Agent, agentId: b.agent, tenantId: 'tenant-1', maxEvents: 1000 }, out);
    console.log(b.ct, JSON.stringify(r));
    expect(r.ok && r.rejected.length === 0).toBe(true);
  }
});
