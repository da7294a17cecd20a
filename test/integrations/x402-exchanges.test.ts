/**
 * The SDK's x402 integrations with x402's own libraries, against the real receiver: a seller
 * (Express with @x402/express's paymentMiddleware and a local facilitator) records each
 * request through gatewayMiddleware; agents pay with @x402/fetch's wrapFetchWithPayment
 * (EIP-3009 payments signed by a local viem account) and record through recordX402Fetch.
 * What lands in PostgreSQL is checked row by row.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { x402ResourceServer } from '@x402/core/server';
import { ExactEvmScheme } from '@x402/evm/exact/server';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { paymentMiddleware } from '@x402/express';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import express from 'express';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayEmitter, generateKeypair, gatewayMiddleware, recordX402Fetch, TelemetryEmitter } from '../../src/sdk/index.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { createIngestKey } from '../helpers/receiver-cluster.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { LocalFacilitator, TEST_NETWORK } from './local-facilitator.js';

const PAY_TO = '0x1111111111111111111111111111111111111111';
const payer = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const emptyWallet = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');

let db: TestDatabase;
let rx: RunningReceiver;
let seller: Server;
let sellerUrl: string;
let gatewayEmitter: GatewayEmitter;
const facilitator = new LocalFacilitator([emptyWallet.address]);

beforeAll(async () => {
  db = await createTestDatabase('x402_rx');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
  gatewayEmitter = new GatewayEmitter({ receiverUrl: rx.url, apiKey: await createIngestKey(db.url, 'seller-tenant'), flushIntervalMs: 50 });
  gatewayEmitter.start();

  const resourceServer = new x402ResourceServer(facilitator).register(TEST_NETWORK, new ExactEvmScheme());
  const app = express();
  app.use(gatewayMiddleware({ emitter: gatewayEmitter, gatewayId: 'gw-test', vendorId: 'weather-api', onError: (err) => console.error(err) }));
  app.use(paymentMiddleware({ 'GET /weather': { accepts: { scheme: 'exact', price: '$0.001', network: TEST_NETWORK, payTo: PAY_TO }, description: 'Weather' } }, resourceServer));
  app.get('/weather', (_req, res) => {
    res.json({ city: 'Paris', celsius: 21 });
  });
  app.get('/free', (_req, res) => {
    res.json({ free: true });
  });
  seller = createServer(app);
  seller.listen(0, '127.0.0.1');
  await once(seller, 'listening');
  sellerUrl = `http://127.0.0.1:${(seller.address() as { port: number }).port}`;
});

afterAll(async () => {
  seller?.close();
  await gatewayEmitter?.stop({ deadlineMs: 5_000 });
  await rx?.stop();
  await db?.drop();
});

function payingFetch(account: typeof payer, inner: typeof fetch): typeof fetch {
  const client = new x402Client();
  registerExactEvmScheme(client, { signer: account });
  return wrapFetchWithPayment(inner, client);
}

describe('x402 exchanges recorded by the SDK', () => {
  it('stores what the agent paid and what the seller served, without touching the payments', async () => {
    const keypair = generateKeypair();
    const errors: unknown[] = [];
    const telemetry = new TelemetryEmitter({ receiverUrl: rx.url, keypair, flushIntervalMs: 50, telemetryIntervalMs: 0 });
    telemetry.start();
    const recorded = (vendorId: string): typeof fetch => recordX402Fetch(fetch, { emitter: telemetry, vendorId, challengeTimeoutMs: 20_000, onError: (e) => errors.push(e) });

    // Under x402's wrapper: the recorder sees the 402, the paid retry and its settlement.
    const pay = payingFetch(payer, recorded('weather-api'));
    const paid = await pay(`${sellerUrl}/weather?city=paris`);
    expect(paid.status).toBe(200);
    expect(await paid.json()).toEqual({ city: 'Paris', celsius: 21 });
    expect((await pay(`${sellerUrl}/free`)).status).toBe(200);

    // A wallet the facilitator turns down: the paid retry is answered 402 again.
    const refused = await payingFetch(emptyWallet, recorded('weather-api'))(`${sellerUrl}/weather?city=rome`).catch((err: unknown) => err);
    expect(refused instanceof Response ? refused.status : String(refused)).toBe(402);

    // Around x402's wrapper: only the first request and the settled answer are visible.
    const outer = recordX402Fetch(payingFetch(payer, fetch), { emitter: telemetry, vendorId: 'weather-outer', onError: (e) => errors.push(e) });
    expect((await outer(`${sellerUrl}/weather?city=oslo`)).status).toBe(200);

    const stats = await telemetry.stop({ deadlineMs: 10_000 });
    expect(errors).toEqual([]);
    expect(facilitator.settled).toHaveLength(2);

    const rows = await query<{ vendor_id: string; success: boolean; amount_atomic: string | null; token_mint: string | null; request_url: string; request_method: string; error_type: string | null; signature: string | null; latency_ms: number }>(
      db.url,
      `SELECT vendor_id, success, amount_atomic::text, token_mint, request_url, request_method, error_type, signature, latency_ms
         FROM agent_interactions WHERE agent_id = $1 ORDER BY nonce`,
      [keypair.agentId],
    );
    expect(rows.map((r) => `${r.vendor_id} ${String(r.success)} ${r.error_type ?? '-'}`)).toEqual(['weather-api true -', 'weather-api false payment_rejected', 'weather-outer true -']);
    expect(stats.failed + stats.dropped + stats.abandoned).toBe(0);
    const [ok, no, outerRow] = rows;
    expect(ok).toMatchObject({ vendor_id: 'weather-api', success: true, amount_atomic: '1000', request_url: `${sellerUrl}/weather`, request_method: 'GET', error_type: null, signature: facilitator.settled[0] });
    expect(ok?.token_mint).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(no).toMatchObject({ vendor_id: 'weather-api', success: false, amount_atomic: '1000', signature: null });
    expect(no?.error_type).toBe('payment_rejected');
    // The exact scheme's settlement states no amount, and the payment was made inside x402's wrapper, out of sight.
    expect(outerRow).toMatchObject({ vendor_id: 'weather-outer', success: true, amount_atomic: null, signature: facilitator.settled[1] });
    for (const r of rows) expect(r.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('records a challenge never followed by a payment as a failed interaction once it times out', async () => {
    const keypair = generateKeypair();
    const telemetry = new TelemetryEmitter({ receiverUrl: rx.url, keypair, flushIntervalMs: 50, telemetryIntervalMs: 0 });
    telemetry.start();
    // A plain fetch under no payment wrapper: it meets the 402 and pays nothing.
    const res = await recordX402Fetch(fetch, { emitter: telemetry, challengeTimeoutMs: 100 })(`${sellerUrl}/weather`);
    expect(res.status).toBe(402);
    expect(res.headers.get('payment-required')).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await telemetry.stop({ deadlineMs: 10_000 });
    const rows = await query(db.url, `SELECT vendor_id, success, amount_atomic::text, error_type FROM agent_interactions WHERE agent_id = $1`, [keypair.agentId]);
    expect(rows).toEqual([{ vendor_id: new URL(sellerUrl).host, success: false, amount_atomic: '1000', error_type: 'payment_required' }]);
  });

  it('stores one gateway event per request the seller answered, with its payment verification', async () => {
    let rows: { route: string; method: string; status_code: number; amount_atomic: string | null; payment_verified: boolean | null; error_code: string | null }[] = [];
    // The seller's emitter sends in the background: wait for the rows of the two tests above.
    for (let i = 0; i < 100 && rows.length < 8; i++) {
      rows = await query(db.url, `SELECT route, method, status_code, amount_atomic::text, payment_verified, error_code FROM gateway_telemetry WHERE gateway_id = 'gw-test' ORDER BY time, route, status_code`);
      if (rows.length < 8) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const summary = rows.map((r) => `${r.method} ${r.route} ${r.status_code} ${r.amount_atomic ?? '-'} ${String(r.payment_verified)} ${r.error_code ?? '-'}`).sort();
    const challenge = rows.find((r) => r.status_code === 402 && r.payment_verified === null)?.error_code ?? 'none';
    expect(summary).toEqual(
      [
        // Paris, Rome, Oslo and the unpaid request each met the challenge first.
        ...Array(4).fill(`GET /weather 402 - null ${challenge}`),
        'GET /weather 200 1000 true -',
        'GET /weather 200 1000 true -',
        'GET /weather 402 1000 false insufficient_funds',
        'GET /free 200 - null -',
      ].sort(),
    );
  });
});

describe('gatewayMiddleware on plain node:http', () => {
  it('records v1 exchanges (402 body, X-PAYMENT, X-PAYMENT-RESPONSE) with the paying agent named by X-MachPay-Agent', async () => {
    const record = gatewayMiddleware({ emitter: gatewayEmitter, gatewayId: 'gw-plain', vendorId: 'quotes', route: () => '/quote/:symbol' });
    const server = createServer((req, res) => {
      record(req, res);
      const payment = req.headers['x-payment'];
      if (payment === undefined) {
        res.writeHead(402, { 'content-type': 'application/json' }).end(JSON.stringify({ x402Version: 1, error: 'X-PAYMENT header is required', accepts: [{ maxAmountRequired: '300' }] }));
        return;
      }
      res.setHeader('X-PAYMENT-RESPONSE', Buffer.from(JSON.stringify({ success: true, transaction: '0xfeed', network: 'base-sepolia' })).toString('base64'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"price":1}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/quote/ACME?at=now`;
    const agentId = generateKeypair().agentId;
    try {
      expect((await fetch(url, { headers: { 'x-machpay-agent': agentId } })).status).toBe(402);
      const xPayment = Buffer.from(JSON.stringify({ x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: { authorization: { value: '300' } } })).toString('base64');
      expect((await fetch(url, { headers: { 'x-machpay-agent': agentId, 'x-payment': xPayment } })).status).toBe(200);
    } finally {
      server.close();
    }
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      rows = await query(db.url, `SELECT route, vendor_id, agent_id, status_code, amount_atomic::text, payment_verified, error_code FROM gateway_telemetry WHERE gateway_id = 'gw-plain' ORDER BY status_code`);
      if (rows.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(rows).toEqual([
      { route: '/quote/:symbol', vendor_id: 'quotes', agent_id: agentId, status_code: 200, amount_atomic: '300', payment_verified: true, error_code: null },
      { route: '/quote/:symbol', vendor_id: 'quotes', agent_id: agentId, status_code: 402, amount_atomic: null, payment_verified: null, error_code: 'payment_required' },
    ]);
  });
});
