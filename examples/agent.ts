/**
 * A runnable agent: loads (or generates) its Ed25519 keypair, records a few paid
 * interactions and one telemetry snapshot, sends them signed to a receiver, prints the
 * delivery stats and exits (status 1 if anything was not delivered).
 *
 *   npm run build && node dist/examples/agent.js [interactions]
 *
 * Environment:
 *   RECEIVER_URL           receiver base URL (default http://127.0.0.1:8080)
 *   MACHPAY_AGENT_SECRET   64-byte secret key, base58 or a JSON array (Solana id.json)
 *   MACHPAY_AGENT_KEYFILE  file with the same, read when the variable is unset
 *   INTERACTIONS           how many interactions (default 20; the argument wins)
 *   ENCODING               json (default) or msgpack
 * With neither secret source, a fresh keypair is generated for this run.
 */
import { generateKeypair, loadKeypair, TelemetryEmitter, type BodyEncoding } from '../src/sdk/index.js';

const VENDORS = ['weather-api', 'llm-gateway', 'geo-lookup'] as const;

async function main(): Promise<number> {
  const receiverUrl = process.env['RECEIVER_URL'] ?? 'http://127.0.0.1:8080';
  const count = Number(process.argv[2] ?? process.env['INTERACTIONS'] ?? 20);
  if (!Number.isInteger(count) || count < 0) throw new Error(`interactions must be a whole number, got ${String(process.argv[2])}`);
  const encoding = (process.env['ENCODING'] ?? 'json') as BodyEncoding;

  const loaded = await loadKeypair({ file: process.env['MACHPAY_AGENT_KEYFILE'] });
  const keypair = loaded ?? generateKeypair();
  console.log(`agent ${keypair.agentId} (${loaded === null ? 'generated for this run' : 'loaded'}) → ${receiverUrl}`);

  const emitter = new TelemetryEmitter({
    receiverUrl,
    keypair,
    encoding,
    walletProvider: () => ({ solBalanceLamports: 2_500_000_000n, usdcBalanceAtomic: 125_000_000n, lowBalanceWarnings: 0 }),
    onError: (f) => console.error(`delivery problem: ${f.code} (HTTP ${f.status ?? '-'}) ${f.message} [${f.eventIds.length} event(s)]`),
  });
  emitter.start();

  for (let i = 0; i < count; i++) {
    const vendorId = VENDORS[i % VENDORS.length] as string;
    const success = Math.random() < 0.9;
    emitter.recordInteraction({
      vendorId,
      success,
      latencyMs: 40 + Math.round(Math.random() * 400),
      amountAtomic: success ? 1_000n + BigInt(i) : undefined,
      tokenMint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
      requestUrl: `https://${vendorId}.example.com/v1/query?n=${i}`,
      requestMethod: 'POST',
      errorType: success ? undefined : 'payment_timeout',
      errorMessage: success ? undefined : 'facilitator did not answer in time',
    });
  }
  const snapshotId = await emitter.emitTelemetrySnapshot();
  console.log(`recorded ${count} interaction(s) and snapshot ${snapshotId ?? '(none)'}`);

  const stats = await emitter.stop({ deadlineMs: 10_000 });
  const { lastError, errors, ...counts } = stats;
  console.log('stats', counts);
  if (Object.keys(errors).length > 0) console.log('errors', errors);
  if (lastError !== null) console.log('last error', { code: lastError.code, status: lastError.status, message: lastError.message });
  return stats.sent === stats.recorded && stats.rejected === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
