/**
 * How many events per second one core can record, encode, compress and sign with the
 * SDK, next to its ceiling in the same run: bare tweetnacl signatures over bodies of the
 * same size. The network is a stub that answers 202 at once, so only SDK work is timed.
 *
 *   npm run build && node dist/examples/sdk-throughput.js [secondsPerCase]
 */
import nacl from 'tweetnacl';
import { generateKeypair, signedBytes, TelemetryEmitter, type BodyEncoding } from '../src/sdk/index.js';

const seconds = Number(process.argv[2] ?? 3);
const keypair = generateKeypair();

// Payment signatures are 64 random bytes in base58 (~88 characters): the part of an
// interaction that does not compress, so the gzip figures below are not flattered.
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const paymentSignatures = Array.from({ length: 4096 }, () => Array.from(nacl.randomBytes(88), (b) => B58[b % 58]).join(''));

let bodyBytes = 0;
let bodies = 0;
const stubFetch: typeof fetch = (_input, init) => {
  bodyBytes += (init?.body as Uint8Array).length;
  bodies++;
  return Promise.resolve(new Response('{"accepted":0,"rejected":[]}', { status: 202 }));
};

async function measure(batch: number, encoding: BodyEncoding, gzip: boolean): Promise<void> {
  const emitter = new TelemetryEmitter({
    receiverUrl: 'http://127.0.0.1:9',
    keypair,
    fetch: stubFetch,
    encoding,
    gzip,
    maxBatchEvents: batch,
    maxQueueEvents: batch * 2,
    flushIntervalMs: 3_600_000,
    telemetryIntervalMs: 0,
  });
  emitter.start();
  const record = (i: number): void => {
    emitter.recordInteraction({
      vendorId: 'weather-api',
      success: true,
      latencyMs: 40 + (i % 300),
      amountAtomic: 1000 + i,
      tokenMint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
      requestUrl: `https://weather-api.example.com/v1/forecast?city=${i % 977}`,
      requestMethod: 'GET',
      signature: paymentSignatures[i % paymentSignatures.length],
    });
  };
  for (let i = 0; i < batch * 3; i++) record(i); // warm up
  await emitter.flush();
  bodyBytes = 0;
  bodies = 0;
  let events = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < batch; i++) record(events + i);
    await emitter.flush();
    events += batch;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await emitter.stop({ deadlineMs: 0 });

  // Ceiling: tweetnacl alone, signing bodies of the size the SDK produced.
  const avgBody = Math.round(bodyBytes / Math.max(1, bodies));
  const body = new Uint8Array(avgBody);
  const secretKey = keypair.exportSecretKey();
  let sigs = 0;
  const s0 = performance.now();
  while (performance.now() - s0 < 1000) {
    nacl.sign.detached(signedBytes(Date.now(), '/v1/agent', body), secretKey);
    sigs++;
  }
  const signMs = (performance.now() - s0) / sigs;

  console.log(
    [
      `batch ${String(batch).padStart(4)}`,
      encoding.padEnd(7),
      gzip ? 'gzip' : 'raw ',
      `${Math.round(events / wall).toLocaleString('en').padStart(9)} events/s`,
      `(${Math.round(events / cpuSeconds).toLocaleString('en')} per CPU-second)`,
      `${(avgBody / batch).toFixed(0)} B/event on the wire`,
      `| ceiling: sign-only ${signMs.toFixed(2)} ms/batch → ${Math.round((batch * 1000) / signMs).toLocaleString('en')} events/s`,
    ].join('  '),
  );
}

async function main(): Promise<void> {
  console.log(`Node ${process.version}, ${seconds}s per case, one core (the event loop)`);
  for (const batch of [100, 1000]) {
    for (const encoding of ['json', 'msgpack'] as const) {
      for (const gzip of [true, false]) await measure(batch, encoding, gzip);
    }
  }
}

void main();
