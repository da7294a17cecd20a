import { expect } from 'vitest';
import { bearer, gatewayEvent, interactionEvent, newAgent, postAgentBatch, postEvents, telemetryEvent, type TestAgent } from '../helpers/agent.js';
import { runCli } from '../helpers/receiver.js';

/** A little of everything the receiver counts: accepted and rejected events on both endpoints, and refused requests. */
export interface Traffic {
  /** Wallet healthy: 25 USDC, 1.5 SOL. Interactions with two vendors, one failed. */
  readonly healthy: TestAgent;
  /** Wallet low: 0.5 USDC, 0.005 SOL, 2 low-balance warnings. */
  readonly low: TestAgent;
  /** amount_atomic of each vendor's interactions of `healthy`. */
  readonly healthySpend: Readonly<Record<string, number>>;
  /** Tenant of the API key the two gateway requests (gw-test-1, one 200, one 502) were sent with. */
  readonly tenant: string;
}

/** A gateway API key of a new tenant, made with the CLI as an operator would. */
export async function createApiKey(databaseUrl: string, tenant: string): Promise<string> {
  const run = await runCli(['keys', 'create', '--tenant', tenant, '--name', 'observability'], { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
  if (run.code !== 0) throw new Error(`keys create failed (${run.code}): ${run.stderr}`);
  const key = run.stdout.trim().split('\n').pop() ?? '';
  expect(key).toMatch(/^mpk_/);
  return key;
}

export async function sendTraffic(receiverUrl: string, databaseUrl: string): Promise<Traffic> {
  const healthy = newAgent();
  const low = newAgent();
  const accepted = await postAgentBatch(
    receiverUrl,
    healthy,
    [
      interactionEvent(healthy.agentId, { data: { vendor_id: 'vendor-weather', amount_atomic: 1000, latency_ms: 40 } }),
      interactionEvent(healthy.agentId, { data: { vendor_id: 'vendor-weather', amount_atomic: 2000, latency_ms: 60 } }),
      interactionEvent(healthy.agentId, {
        data: { vendor_id: 'vendor-maps', amount_atomic: 500, latency_ms: 900, success: false, error_type: 'timeout', error_message: 'upstream timed out' },
      }),
      telemetryEvent(healthy.agentId),
      // Rejected per event: no nonce.
      interactionEvent(healthy.agentId, { data: { nonce: undefined } }),
    ],
    { signer: 'node' },
  );
  expect(accepted.status, accepted.text).toBe(202);
  expect((accepted.json as { accepted: number }).accepted).toBe(4);

  const lowReport = await postAgentBatch(
    receiverUrl,
    low,
    [telemetryEvent(low.agentId, { data: { wallet: { sol_balance_lamports: 5_000_000, usdc_balance_atomic: 500_000, low_balance_warnings: 2 } } })],
    { signer: 'node' },
  );
  expect(lowReport.status, lowReport.text).toBe(202);

  const tenant = `tenant-${healthy.agentId.slice(0, 8)}`;
  const key = await createApiKey(databaseUrl, tenant);
  const gateway = await postEvents(receiverUrl, '/v1/ingest', JSON.stringify([gatewayEvent(), gatewayEvent({ data: { status_code: 502, error_code: 'upstream' } })]), bearer(key));
  expect(gateway.status, gateway.text).toBe(202);

  // Refused as a whole: a bad API key (401) and a body that is not JSON (400).
  expect((await postEvents(receiverUrl, '/v1/ingest', '[]', bearer('mpk_test_not-a-key'))).status).toBe(401);
  expect((await postEvents(receiverUrl, '/v1/agent', '{', {})).status).toBeGreaterThanOrEqual(400);
  return { healthy, low, tenant, healthySpend: { 'vendor-weather': 3000, 'vendor-maps': 500 } };
}
